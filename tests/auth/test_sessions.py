"""Login, refresh (rotation) and logout."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from pressroom.config import DEV_SECRET_KEY
from tests.http import PASSWORD, bearer, login, signup, unique_email


class TestLogin:
    def test_returns_an_access_and_a_refresh_token(self, client: TestClient) -> None:
        tokens = login(client, signup(client))
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 900
        assert tokens["refresh_token"].startswith("prr_")
        assert client.get("/v1/me", headers=bearer(tokens["access_token"])).status_code == 200

    def test_wrong_password_and_unknown_email_answer_alike(self, client: TestClient) -> None:
        email = signup(client)
        wrong = client.post("/v1/auth/login", json={"email": email, "password": "nope" * 3})
        unknown = client.post(
            "/v1/auth/login", json={"email": unique_email(), "password": PASSWORD}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["code"] == "invalid_credentials"


class TestAccessToken:
    def test_expired_token_is_refused(self, client: TestClient) -> None:
        tokens = login(client, signup(client))
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        claims["exp"] = claims["iat"] - 1
        expired = jwt.encode(claims, DEV_SECRET_KEY, algorithm="HS256")
        assert client.get("/v1/me", headers=bearer(expired)).status_code == 401

    def test_token_signed_with_another_key_is_refused(self, client: TestClient) -> None:
        tokens = login(client, signup(client))
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        forged = jwt.encode(claims, "another-secret-key-of-32-characters!!", algorithm="HS256")
        assert client.get("/v1/me", headers=bearer(forged)).status_code == 401

    def test_unsigned_token_is_refused(self, client: TestClient) -> None:
        tokens = login(client, signup(client))
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        unsigned = jwt.encode(claims, None, algorithm="none")
        assert client.get("/v1/me", headers=bearer(unsigned)).status_code == 401

    def test_a_refresh_token_is_not_an_access_token(self, client: TestClient) -> None:
        tokens = login(client, signup(client))
        assert client.get("/v1/me", headers=bearer(tokens["refresh_token"])).status_code == 401


class TestRefresh:
    def test_gives_new_working_tokens_and_spends_the_old_refresh_token(
        self, client: TestClient
    ) -> None:
        tokens = login(client, signup(client))
        response = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert response.status_code == 200
        fresh = response.json()
        assert fresh["refresh_token"] != tokens["refresh_token"]
        assert client.get("/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
        again = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert again.status_code == 401
        assert again.json()["code"] == "invalid_refresh_token"

    def test_unknown_refresh_token_is_refused(self, client: TestClient) -> None:
        response = client.post("/v1/auth/refresh", json={"refresh_token": "prr_unknown"})
        assert response.status_code == 401


class TestLogout:
    def test_ends_this_session_only(self, client: TestClient) -> None:
        email = signup(client)
        phone, laptop = login(client, email), login(client, email)
        response = client.post("/v1/auth/logout", headers=bearer(phone["access_token"]))
        assert response.status_code == 200
        assert response.json() == {"sessions_ended": 1}
        assert client.get("/v1/me", headers=bearer(phone["access_token"])).status_code == 401
        refresh = client.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert refresh.status_code == 401
        assert client.get("/v1/me", headers=bearer(laptop["access_token"])).status_code == 200

    def test_logout_all_ends_every_session(self, client: TestClient) -> None:
        email = signup(client)
        phone, laptop = login(client, email), login(client, email)
        response = client.post("/v1/auth/logout-all", headers=bearer(phone["access_token"]))
        assert response.json() == {"sessions_ended": 2}
        for tokens in (phone, laptop):
            assert client.get("/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
            refresh = client.post(
                "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refresh.status_code == 401
        assert login(client, email)["access_token"]
