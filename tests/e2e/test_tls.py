"""The broker over HTTPS, with a certificate made for the test by openssl."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from brokerproc import BrokerProcess, enrol, signer
from client.api import ApiFailure, BrokerClient

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture
def tls_broker(tmp_path, root):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    process = BrokerProcess(tmp_path, root, extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    yield process, cert
    process.stop()


async def test_tls_broker_answers_https(tls_broker):
    process, cert = tls_broker
    assert process.url.startswith("https://127.0.0.1:")
    async with BrokerClient(process.url, cafile=str(cert)) as api:
        assert (await api.health())["status"] == "ok"


async def test_tls_signed_request_works(tls_broker, root):
    process, cert = tls_broker
    material = await enrol(process.url, root, "mx.anam.inteligencia", cafile=str(cert))
    async with BrokerClient(process.url, signer(material), cafile=str(cert)) as api:
        assert await api.mailbox() == []


async def test_tls_untrusted_certificate_rejected(tls_broker):
    process, _cert = tls_broker
    async with BrokerClient(process.url) as api:
        with pytest.raises(ApiFailure) as failure:
            await api.health()
    assert failure.value.code == "tls_untrusted"
