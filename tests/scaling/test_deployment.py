"""Several API and worker processes, as on separate hosts (own ports, own pools), straight to
PostgreSQL and through a real PgBouncer in transaction mode: quotas, provider webhooks,
fairness, plan limits, leases and rescue after kill -9, a database that drops every
connection, and NOTIFY-fast pick-up on the worker's direct listen connection."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.billing import stripe_events
from tests.billing.conftest import STRIPE_SECRET
from tests.factories import connect, make_jobs, make_org
from tests.http import PASSWORD, unique_email
from tests.pgbouncer import PgBouncer
from tests.scaling.conftest import Cluster, pooled_settings, wait_for

pytestmark = pytest.mark.multiprocess

ARTICLE = (
    "PostgreSQL can be a job queue. With FOR UPDATE SKIP LOCKED, many workers claim "
    "different rows without blocking each other, and the queue shares transactions "
    "with the rest of the data."
)
FREE_QUOTA, FREE_RUNNING, PRO_RUNNING = 20, 1, 5


def owner_headers(api: str) -> dict[str, str]:
    email = unique_email("owner")
    creds = {"email": email, "password": PASSWORD}
    assert httpx.post(f"{api}/v1/auth/signup", json=creds).status_code == 201
    token = httpx.post(f"{api}/v1/auth/login", json=creds).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def create_org(api: str, headers: dict[str, str], name: str) -> str:
    response = httpx.post(f"{api}/v1/orgs", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def submit_many(apis: list[str], headers: dict[str, str], org: str, n: int) -> list[int]:
    """`n` submissions at once, spread over every API process; their status codes."""

    def one(i: int) -> int:
        response = httpx.post(
            f"{apis[i % len(apis)]}/v1/orgs/{org}/jobs",
            json={"kind": "summary", "input": {"text": ARTICLE}},
            headers=headers,
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


def upgrade_to_pro(apis: list[str], org: str) -> None:
    """The provider announces a pro subscription, delivered twice to every API process at
    once (providers retry; load balancers spread the retries)."""
    sub = stripe_events.subscription(
        f"sub_{uuid.uuid4().hex[:12]}", customer="cus_scale", status="active", org_id=org
    )
    evt = stripe_events.event(
        f"evt_{uuid.uuid4().hex[:12]}", "customer.subscription.created", sub, int(time.time())
    )
    body = stripe_events.body_of(evt)

    def deliver(i: int) -> int:
        headers = stripe_events.signed_headers(body, STRIPE_SECRET)
        url = f"{apis[i % len(apis)]}/v1/webhooks/stripe"
        return httpx.post(url, content=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert {code // 100 for code in pool.map(deliver, range(2 * len(apis)))} == {2}


class RunningSampler:
    """The most jobs each org had running at once, sampled from the database."""

    def __init__(self, database_url: str) -> None:
        self.peak: dict[uuid.UUID, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(database_url,), daemon=True)
        self._thread.start()

    def _run(self, database_url: str) -> None:
        with connect(database_url) as db:
            while not self._stop.wait(0.02):
                for org, n in db.execute(
                    "SELECT org_id, count(*) FROM content_jobs WHERE status = 'running'"
                    " GROUP BY org_id"
                ):
                    self.peak[org] = max(self.peak[org], n)

    def stop(self) -> dict[uuid.UUID, int]:
        self._stop.set()
        self._thread.join()
        return dict(self.peak)


def business_backlog(database_url: str, jobs: int) -> uuid.UUID:
    """An org on the business plan (20 at once: more than all workers' slots) with a
    backlog inserted ahead of everyone else's."""
    with connect(database_url) as db:
        org = make_org(db, "big")
        db.execute(
            "INSERT INTO subscriptions (id, org_id, provider, provider_subscription_id, plan,"
            " status) VALUES (gen_random_uuid(), %s, 'stripe', %s, 'business', 'active')",
            (org, f"sub_{org}"),
        )
        make_jobs(db, org, jobs, max_attempts=20)
    return org


def run_scenario(database_url: str, cluster: Cluster) -> None:
    apis = [cluster.api(), cluster.api()]
    headers = owner_headers(apis[0])  # a token from one process works on the others
    free = create_org(apis[1], headers, "free")
    pro = create_org(apis[0], headers, "pro")

    # Quota under concurrency: twice the free quota at once, across both processes.
    codes = submit_many(apis, headers, free, 2 * FREE_QUOTA)
    assert sorted(codes) == [202] * FREE_QUOTA + [402] * FREE_QUOTA

    upgrade_to_pro(apis, pro)
    assert submit_many(apis, headers, pro, 30) == [202] * 30
    big = business_backlog(database_url, 150)
    with connect(database_url) as db:
        (events,) = db.execute("SELECT count(*) FROM billing_events").fetchone()  # type: ignore[misc]
        assert events == 1  # every duplicate delivery was a no-op
        # Each job takes a moment, so limits are tested and kills land on jobs in flight.
        db.execute("UPDATE content_jobs SET input = input || '{\"sleep_seconds\": 0.15}'")
        # The small orgs' jobs are due after the big backlog: fairness must not starve them.
        db.execute("UPDATE content_jobs SET run_after = now() WHERE org_id <> %s", (big,))

    sampler = RunningSampler(database_url)
    workers = [cluster.worker(concurrency=4) for _ in range(3)]
    with connect(database_url) as db:

        def done() -> int:
            row = db.execute(
                "SELECT count(*) FROM content_jobs WHERE status NOT IN ('queued', 'running')"
            ).fetchone()
            return int(row[0])  # type: ignore[index]

        def leased_by(proc: Any) -> int:
            row = db.execute(
                "SELECT count(*) FROM content_jobs WHERE status = 'running' AND leased_by LIKE %s",
                (f"%:{proc.pid}:%",),
            ).fetchone()
            return int(row[0])  # type: ignore[index]

        victim = workers[0]
        wait_for(lambda: leased_by(victim) > 0, 60, "the first worker runs jobs")
        victim.kill()  # kill -9: its leases must expire and be rescued by the others
        victim.wait()
        wait_for(lambda: done() >= 60, 120, "work goes on after the crash")
        # What a database restart looks like to every process: all connections dropped.
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'pressroom' AND pid <> pg_backend_pid()"
            " AND datname = current_database()"
        )
        wait_for(lambda: done() == 200, 240, f"all jobs finish\n{cluster.logs()}")
        peaks = sampler.stop()
        statuses = dict(db.execute("SELECT status, count(*) FROM content_jobs GROUP BY status"))
        artifacts = {
            n
            for (n,) in db.execute(
                "SELECT count(a.id) FROM content_jobs j"
                " LEFT JOIN content_artifacts a ON a.job_id = j.id GROUP BY j.id"
            )
        }
        # A rescue counts in lease_expiries, not attempts (0607bc5b8541).
        rescued = db.execute(
            "SELECT count(*) FROM content_jobs WHERE lease_expiries > 0"
        ).fetchone()
        small_last, big_last = (
            db.execute(
                "SELECT max(finished_at) FROM content_jobs WHERE org_id = ANY(%s)", (orgs,)
            ).fetchone()[0]  # type: ignore[index]
            for orgs in ([uuid.UUID(pro)], [big])
        )
        used = dict(db.execute("SELECT org_id, jobs_used FROM usage_counters"))
    assert statuses == {"succeeded": 200}, cluster.logs()
    assert artifacts == {1}  # nothing lost, nothing run twice into the record
    assert rescued is not None
    assert rescued[0] >= 1  # the killed worker's jobs came back
    assert peaks.get(uuid.UUID(free), 0) == FREE_RUNNING
    assert 1 < peaks.get(uuid.UUID(pro), 0) <= PRO_RUNNING
    # Fairness: the pro org's 30 jobs were done while the big backlog still ran.
    assert small_last < big_last
    assert used[uuid.UUID(free)] == FREE_QUOTA
    assert used[uuid.UUID(pro)] == 30
    assert all(w.poll() is None for w in workers[1:]), cluster.logs()


class TestManyProcesses:
    def test_direct_to_postgresql(self, database_url: str, cluster: Callable[..., Cluster]) -> None:
        run_scenario(database_url, cluster(database_url))

    def test_through_pgbouncer_in_transaction_mode(
        self, database_url: str, pgbouncer: PgBouncer, cluster: Callable[..., Cluster]
    ) -> None:
        deployed = cluster(pgbouncer.url(database_url), **pooled_settings(pgbouncer, database_url))
        run_scenario(database_url, deployed)
        database = database_url.rsplit("/", 1)[1].split("?")[0]
        assert pgbouncer.transactions(database) > 200  # the traffic did go through it


class TestPickUpBehindPgBouncer:
    def _pick_up(self, database_url: str, deployed: Cluster) -> None:
        api = deployed.api()
        headers = owner_headers(api)
        org = create_org(api, headers, "notify")
        with connect(database_url) as db:
            wait_for(
                lambda: (
                    db.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%'"
                    ).fetchone()[0]  # type: ignore[index]
                    > 0
                    or "polling for new jobs" in deployed.logs()
                ),
                60,
                "the worker is up",
            )
            assert submit_many([api], headers, org, 1) == [202]
            wait_for(
                lambda: (
                    db.execute(
                        "SELECT count(*) FROM content_jobs WHERE status = 'succeeded'"
                    ).fetchone()[0]  # type: ignore[index]
                    == 1
                ),
                60,
                "the job is done",
            )

    def test_notify_wakes_the_worker_through_its_direct_listen_connection(
        self, database_url: str, pgbouncer: PgBouncer, cluster: Callable[..., Cluster]
    ) -> None:
        # A poll an hour apart: only the NOTIFY of the submit's commit can wake the worker.
        settings = {**pooled_settings(pgbouncer, database_url), "worker_poll_interval": "3600"}
        deployed = cluster(pgbouncer.url(database_url), **settings)
        deployed.worker()
        self._pick_up(database_url, deployed)

    def test_without_a_direct_connection_the_worker_polls_and_logs_it(
        self, database_url: str, pgbouncer: PgBouncer, cluster: Callable[..., Cluster]
    ) -> None:
        deployed = cluster(pgbouncer.url(database_url), db_pooler="pgbouncer")
        deployed.worker()
        self._pick_up(database_url, deployed)
        assert "LISTEN does not work through PgBouncer" in deployed.logs()
