"""TLS to the platform is verified by default: a certificate the gateway does not trust stops
delivery (nothing is sent, nothing is lost); the site's own CA file makes it work."""
import ssl

import pytest

from sitegate.receiver import Receiver
from sitegate.uplink.national.client import NationalClient
from sitegate.uplink.national.errors import TransportError
from tests.tlsutil import make_ca_and_server

SECRET = "0123456789abcdef0123456789ABCDEF"


@pytest.fixture
def tls_receiver(tmp_path):
    certs = make_ca_and_server(tmp_path)
    rx = Receiver("APPID", SECRET)
    rx.start()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    # serve the same receiver over TLS: wrap its listening socket
    rx._server.socket = ctx.wrap_socket(rx._server.socket, server_side=True)
    yield rx, f"https://127.0.0.1:{rx.port}/open.api", certs
    rx.stop()


def test_untrusted_certificate_fails_closed(tls_receiver):
    rx, url, _certs = tls_receiver
    client = NationalClient(url, "APPID", SECRET)
    with pytest.raises(TransportError) as exc:
        client.check_sign()
    assert "certificate" in str(exc.value).lower() or "ssl" in str(exc.value).lower()
    assert exc.value.maybe_delivered is False          # safe to resend: nothing reached the platform
    assert rx.stats()["records"] == 0


def test_configured_ca_file_is_trusted(tls_receiver):
    rx, url, certs = tls_receiver
    client = NationalClient(url, "APPID", SECRET, ca_file=str(certs["ca"]))
    client.check_sign()
