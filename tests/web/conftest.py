from tests.http import client
from tests.web.browser import browser, dashboard

__all__ = ["browser", "client", "dashboard"]
