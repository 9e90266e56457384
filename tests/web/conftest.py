from tests.billing.fake_stripe import stripe_api
from tests.http import client
from tests.web.browser import browser, dashboard

__all__ = ["browser", "client", "dashboard", "stripe_api"]
