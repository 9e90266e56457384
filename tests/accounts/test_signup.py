"""Signing up and reading one's own account."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from pressroom.db.url import to_sqlalchemy_url
from tests.http import PASSWORD, bearer, login, signup, unique_email


class TestSignup:
    def test_creates_an_account_that_can_log_in(self, client: TestClient) -> None:
        email = unique_email()
        response = client.post(
            "/v1/auth/signup",
            json={"email": email, "password": PASSWORD, "display_name": "Ada"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == email
        assert body["display_name"] == "Ada"
        assert "password" not in response.text
        me = client.get("/v1/me", headers=bearer(login(client, email)["access_token"]))
        assert me.status_code == 200
        assert me.json()["id"] == body["id"]

    def test_stores_an_argon2id_hash_not_the_password(
        self, client: TestClient, database_url: str
    ) -> None:
        email = signup(client)
        engine = create_engine(to_sqlalchemy_url(database_url))
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT password_hash FROM users WHERE email = :e"), {"e": email}
            ).scalar_one()
        engine.dispose()
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored


class TestEmailNormalisation:
    def test_email_is_stored_lower_case_and_trimmed(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup", json={"email": "  Grace.Hopper@Example.COM ", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        assert response.json()["email"] == "grace.hopper@example.com"

    def test_email_is_unique_whatever_its_case(self, client: TestClient) -> None:
        email = signup(client)
        again = client.post("/v1/auth/signup", json={"email": email.upper(), "password": PASSWORD})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["code"] == "email_taken"

    def test_login_ignores_email_case(self, client: TestClient) -> None:
        email = signup(client)
        assert login(client, email.upper())["access_token"]


class TestPasswordPolicy:
    def test_short_password_is_refused_naming_the_field(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup", json={"email": unique_email(), "password": "short"}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "invalid_input"
        assert [e["field"] for e in body["errors"]] == ["password"]

    def test_password_containing_the_email_is_refused(self, client: TestClient) -> None:
        email = unique_email("margaret")
        response = client.post(
            "/v1/auth/signup", json={"email": email, "password": f"{email}-2024"}
        )
        assert response.status_code == 422
        assert "email" in response.json()["detail"]

    def test_one_repeated_character_is_refused(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup", json={"email": unique_email(), "password": "a" * 20}
        )
        assert response.status_code == 422

    def test_too_long_password_is_refused(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup", json={"email": unique_email(), "password": "x1" * 100}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "password"


class TestSignupValidation:
    def test_invalid_email_is_refused_naming_the_field(self, client: TestClient) -> None:
        response = client.post("/v1/auth/signup", json={"email": "nope", "password": PASSWORD})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "email"

    def test_unknown_fields_are_refused(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup",
            json={"email": unique_email(), "password": PASSWORD, "is_admin": True},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "is_admin"

    def test_nul_in_display_name_is_invalid_input_not_a_crash(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/signup",
            json={"email": unique_email(), "password": PASSWORD, "display_name": "a\x00b"},
        )
        assert response.status_code == 422


class TestMe:
    def test_needs_a_token(self, client: TestClient) -> None:
        response = client.get("/v1/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"

    def test_refuses_a_forged_token(self, client: TestClient) -> None:
        response = client.get("/v1/me", headers=bearer("eyJhbGciOiJIUzI1NiJ9.e30.forged"))
        assert response.status_code == 401
