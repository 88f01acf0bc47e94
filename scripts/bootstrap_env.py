"""Write a local `.env` with a fresh secret key the first time, so nothing has to be set
by hand in development. An existing `.env` is left alone."""

from __future__ import annotations

import secrets
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def main() -> None:
    if ENV_FILE.exists():
        return
    ENV_FILE.write_text(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n")
    ENV_FILE.chmod(0o600)
    print(f"wrote {ENV_FILE} with a new DJANGO_SECRET_KEY")


if __name__ == "__main__":
    main()
