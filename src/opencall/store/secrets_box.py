"""Encryption at rest for provider credentials (Twilio auth tokens and the like)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from opencall.settings import Settings


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())
        self._key = key.encode()

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for `purpose` (e.g. signing URLs), independent of the encryption key (HKDF)."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"opencall:{purpose}".encode())
        return hkdf.derive(self._key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_key:
            return cls(settings.secret_key)
        # No key configured: keep one beside the database so a restart can still read what it wrote.
        path = Path(settings.data_dir) / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        return cls(path.read_text().strip())

    def seal(self, values: dict[str, Any]) -> str | None:
        return self._fernet.encrypt(json.dumps(values).encode()).decode() if values else None

    def open(self, token: str | None) -> dict[str, Any]:
        return json.loads(self._fernet.decrypt(token.encode())) if token else {}
