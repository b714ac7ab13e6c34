"""Trusting a server's TLS certificate: trust on first use, or a CA file.

A LAN server usually has a self-signed certificate. The first time the client
meets a server (host and port) it remembers the SHA-256 fingerprint of its
certificate and shows it to the user; later connections must present the same
certificate, and a changed one is refused with both fingerprints named (the
user may delete the line from the file to accept the new one). With a CA file
the certificate is verified against it, host name included, instead.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import ssl


class CertificateChanged(Exception):
    """The server presents another certificate than the one remembered for it."""

    def __init__(self, where: str, known: str, presented: str, path: Path) -> None:
        super().__init__(
            f"The TLS certificate of {where} changed: it was {known}, it is now {presented}. "
            f"Refusing to connect; if the server really got a new certificate, remove {where} "
            f"from {path} and connect again."
        )
        self.known = known
        self.presented = presented


@dataclass(frozen=True)
class TrustResult:
    """What trusting a certificate found: its fingerprint, and whether it is new to us."""

    fingerprint: str
    first_use: bool


def default_trust_file() -> Path:
    """Where remembered fingerprints live: ``$XDG_CONFIG_HOME/glozichat/known_servers.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "glozichat" / "known_servers.json"


def fingerprint_of(certificate: object) -> str:
    """The SHA-256 fingerprint of a pyOpenSSL certificate, as colon-separated hex."""
    digest = certificate.digest("sha256")  # type: ignore[attr-defined]
    return digest.decode("ascii") if isinstance(digest, bytes) else str(digest)


class KnownServers:
    """Fingerprints remembered per ``host:port``, kept in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged file must not silently trust anything new; start over
            # from nothing but keep the damaged one for the user to look at.
            self.path.replace(self.path.with_suffix(".damaged"))
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def check(self, host: str, port: int, fingerprint: str) -> TrustResult:
        """Trust ``fingerprint`` for ``host:port`` if it is the remembered one, or
        remember it when there is none; raise ``CertificateChanged`` otherwise."""
        where = f"{host}:{port}"
        known = self._load()
        remembered = known.get(where)
        if remembered is None:
            known[where] = fingerprint
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
            temporary.replace(self.path)
            return TrustResult(fingerprint, first_use=True)
        if remembered != fingerprint:
            raise CertificateChanged(where, remembered, fingerprint, self.path)
        return TrustResult(fingerprint, first_use=False)


def tls_options(host: str, ca_file: str | None) -> object:
    """TLS client options: verified against ``ca_file`` when given; otherwise
    unverified here, because the fingerprint is checked against ``KnownServers``
    before anything is trusted."""
    if ca_file is not None:
        with open(ca_file, encoding="ascii") as pem:
            authority = ssl.Certificate.loadPEM(pem.read())
        return ssl.optionsForClientTLS(host, trustRoot=authority)
    return ssl.CertificateOptions(verify=False)
