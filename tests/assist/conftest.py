"""The web fixtures (a client, the admin signed in) for the FAQ tests."""

from tests.web.conftest import client, signed_in  # noqa: F401 - fixtures
