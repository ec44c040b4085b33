"""OpenPGP clear-signing of security.txt with the `gpg` program (RFC 9116 s.2.3, RFC 4880 s.7).

A signed security.txt lets a researcher check the contacts came from the store and not from whoever
defaced the site. No OpenPGP library is a runtime dependency (decision 0032 put `pgpy-dtc` in the test lock
only, for the validator), so signing uses GnuPG, which every distribution packages: the operator configures
an armored, passphrase-less secret key file (`FIDUCIARY_SECURITY_TXT_SIGNING_KEY`); the key is imported into
a private, temporary GnuPG home for this process and removed, with its gpg-agent, when the runtime closes.

The file changes at most once a day (its Expires is a day) or when a policy is published, so a signature is
kept for the text it signed and gpg runs about once a day, not per request.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

GPG_TIMEOUT_SECONDS = 30.0


class SigningUnavailable(RuntimeError):
    """The configured signing key cannot be used; the message names the setting, never the key."""


class ClearSigner:
    """Clear-signs text with one secret key held in a temporary GnuPG home of this process."""

    def __init__(self, key_file: Path, *, gpg: str = "gpg") -> None:
        program = shutil.which(gpg)
        if program is None:
            raise SigningUnavailable("FIDUCIARY_SECURITY_TXT_SIGNING_KEY is set but the gpg program is not installed")
        if not key_file.is_file():
            raise SigningUnavailable("FIDUCIARY_SECURITY_TXT_SIGNING_KEY does not name a readable file")
        self._gpg = program
        self._home = tempfile.mkdtemp(prefix="fiduciary-gpg-")  # mode 0700, as gpg wants its home
        self._lock = threading.Lock()
        self._signed: tuple[str, str] | None = None  # (text, its clear-signed form)
        try:
            self._run("--import", str(key_file))
            self.fingerprint = self._secret_fingerprint()
            self.sign("probe\n")  # a passphrase or an expired key fails here, at start, not at a researcher
        except BaseException:
            self.close()
            raise

    def _run(self, *args: str, text: str | None = None) -> str:
        command = [self._gpg, "--homedir", self._home, "--batch", "--quiet", "--no-tty", *args]
        try:
            done = subprocess.run(  # noqa: S603 (a fixed program and arguments; no shell)
                command, input=text, capture_output=True, text=True, timeout=GPG_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SigningUnavailable("gpg did not answer in time while signing security.txt") from exc
        if done.returncode != 0:
            raise SigningUnavailable(
                "gpg refused the key of FIDUCIARY_SECURITY_TXT_SIGNING_KEY (it must be an armored secret key "
                "without a passphrase, not expired)"
            )
        return done.stdout

    def _secret_fingerprint(self) -> str:
        for line in self._run("--with-colons", "--list-secret-keys").splitlines():
            fields = line.split(":")
            if fields[0] == "fpr" and len(fields) > 9 and fields[9]:
                return fields[9]
        raise SigningUnavailable("FIDUCIARY_SECURITY_TXT_SIGNING_KEY holds no secret key")

    def sign(self, text: str) -> str:
        """`text` clear-signed (dash-escaped, with an armored signature), the last result kept."""
        with self._lock:
            if self._signed is not None and self._signed[0] == text:
                return self._signed[1]
            signed = self._run(
                "--pinentry-mode", "loopback", "--armor", "--digest-algo", "SHA512",
                "--local-user", self.fingerprint, "--clearsign",
                text=text,
            )  # fmt: skip
            self._signed = (text, signed)
            return signed

    def close(self) -> None:
        """Stop this home's gpg-agent and delete the home with the imported key."""
        if Path(self._home).exists():
            gpgconf = shutil.which("gpgconf")
            if gpgconf is not None:
                subprocess.run(  # noqa: S603
                    [gpgconf, "--homedir", self._home, "--kill", "gpg-agent"],
                    capture_output=True,
                    timeout=GPG_TIMEOUT_SECONDS,
                    check=False,
                )
            shutil.rmtree(self._home, ignore_errors=True)
