"""A throwaway certificate authority for TLS tests (openssl): `ca.crt`, and `server.crt`
(for 127.0.0.1) and `client.crt` signed by it, each with its `.key`."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(folder: Path) -> Path:
    """Write the CA, a server certificate for 127.0.0.1 and a client certificate to `folder`."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=test-ca", cwd=folder,
    )  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}", cwd=folder,
        )  # fmt: skip
        (folder / f"{name}.ext").write_text(ext + "\n" if ext else "basicConstraints=CA:FALSE\n")
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=folder,
        )  # fmt: skip
    return folder
