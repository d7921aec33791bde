"""hosting.outbound.pinned_stream over real TLS: the connection goes to the vetted address, while
SNI, the Host header and the certificate check keep the URL's host name."""

import datetime
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hosting import outbound
from tests.local_http import HostRecorder


def _certificate(name: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class TlsServer:
    """An HTTPS server on 127.0.0.1 with a certificate for `name`, recording SNI and Host."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
        ca = _certificate("Test CA", ca_key, ca_name, ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate(name, key, ca_name, ca_key, ca=False)
        (tmp_path / "server.pem").write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.client_context = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
        self.server_names: list[str | None] = []
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(tmp_path / "server.pem")
        server_context.sni_callback = lambda sock, server_name, context: self.server_names.append(server_name)
        self.recorder = HostRecorder(server_context)
        self.port = self.recorder.port

    @property
    def hosts(self) -> list[str]:
        return self.recorder.hosts

    def close(self) -> None:
        self.recorder.close()


@pytest.fixture
def hooks_example_is_loopback(monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: real("127.0.0.1" if host == "hooks.example" else host, port, *a, **k),
    )


@pytest.fixture
def hooks_example(tmp_path) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path, "hooks.example")
    yield server
    server.close()


def test_https_goes_to_the_vetted_address_with_the_host_name_for_sni_and_the_certificate(
    hooks_example, hooks_example_is_loopback
):
    url = f"https://hooks.example:{hooks_example.port}/hook"
    with (
        outbound.new_client(verify=hooks_example.client_context) as client,
        outbound.pinned_stream(client, "POST", url, allowed_networks=["127.0.0.1/32"], content=b"{}") as response,
    ):
        assert response.status_code == 204
    assert hooks_example.server_names == ["hooks.example"]
    assert hooks_example.hosts == [f"hooks.example:{hooks_example.port}"]


def test_a_certificate_for_another_name_is_refused(tmp_path, hooks_example_is_loopback):
    other = TlsServer(tmp_path, "other.example")
    try:
        url = f"https://hooks.example:{other.port}/hook"
        with (
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
            outbound.new_client(verify=other.client_context) as client,
            outbound.pinned_stream(client, "POST", url, allowed_networks=["127.0.0.1/32"], content=b"{}"),
        ):
            pass
        assert other.hosts == []
    finally:
        other.close()


def test_a_refused_address_is_never_connected_to(hooks_example, hooks_example_is_loopback):
    url = f"https://hooks.example:{hooks_example.port}/hook"
    with (
        pytest.raises(outbound.Refused, match="private, loopback or link-local"),
        outbound.new_client(verify=hooks_example.client_context) as client,
        outbound.pinned_stream(client, "POST", url, allowed_networks=[], content=b"{}"),
    ):
        pass
    assert hooks_example.server_names == []
