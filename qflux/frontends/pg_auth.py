"""PostgreSQL authentication against qflux's static users: cleartext, md5, SCRAM-SHA-256.

scramp derives the SCRAM verifiers (salted, PBKDF2); the message exchange is done here
because scramp's server rejects the empty SCRAM user name libpq sends (PostgreSQL
ignores that name and authenticates the startup packet's user).

The exchanges are driven over the sans-IO machine by the connection task; this module
holds the secrets and checks the answers. SCRAM verifiers are derived once per user at
start (PBKDF2 is deliberately slow), and an unknown user gets a full exchange against a
throwaway verifier, so timing and messages do not tell which user names exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import scramp

from qflux.protocols import pgwire as pg

SCRAM = "SCRAM-SHA-256"
ITERATIONS = 4096

#: Send an auth request, then wait for the client's answer.
Exchange = Callable[[Any], Awaitable[Any]]
#: Send an event that wants no answer.
Send = Callable[[Any], Awaitable[None]]


class AuthFailed(Exception):
    """Authentication did not succeed; the message is safe to show the client."""

    def __init__(self, user: str | None) -> None:
        super().__init__(f'password authentication failed for user "{user or ""}"')


class Authenticator:
    def __init__(self, method: str, passwords: Mapping[str, str]) -> None:
        self.method = method
        self._passwords = dict(passwords)
        self._mechanism = scramp.ScramMechanism(SCRAM)
        self._verifiers = {
            user: self._mechanism.make_auth_info(password, iteration_count=ITERATIONS)
            for user, password in self._passwords.items()
        } if method == "scram-sha-256" else {}  # fmt: skip
        self._decoy = self._mechanism.make_auth_info(
            secrets.token_hex(16), iteration_count=ITERATIONS
        )

    async def authenticate(self, user: str | None, exchange: Exchange, send: Send) -> None:
        """Run the exchange for `user`; raises AuthFailed. Trust needs no exchange."""
        if self.method == "trust":
            return
        if self.method == "scram-sha-256":
            await self._scram(user, exchange, send)
            return
        if self.method == "md5":
            salt = secrets.token_bytes(4)
            answer = await exchange(pg.AuthenticationMD5Password(salt))
            expected = _md5(self._passwords.get(user or ""), user or "", salt)
        else:
            answer = await exchange(pg.AuthenticationCleartextPassword())
            expected = self._passwords.get(user or "")
        given = answer.password if isinstance(answer, pg.PasswordMessage) else None
        if (
            expected is None
            or given is None
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            raise AuthFailed(user)

    async def _scram(self, user: str | None, exchange: Exchange, send: Send) -> None:
        salt, stored_key, server_key, iterations = self._verifiers.get(user or "", self._decoy)
        first = await exchange(pg.AuthenticationSASL((SCRAM,)))
        if not isinstance(first, pg.SASLInitialResponse) or first.mechanism != SCRAM:
            raise AuthFailed(user)
        try:
            header, client_first_bare, client_nonce = _client_first(first.data.decode())
            nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
            server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={iterations}"
            final = await exchange(pg.AuthenticationSASLContinue(server_first.encode()))
            if not isinstance(final, pg.SASLResponse):
                raise AuthFailed(user)
            without_proof, proof = _client_final(final.data.decode(), header, nonce)
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise AuthFailed(user) from exc
        auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        valid = len(proof) == len(signature) and hmac.compare_digest(
            hashlib.sha256(client_key).digest(), stored_key
        )
        if not valid or (user or "") not in self._verifiers:
            raise AuthFailed(user)
        verifier = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
        await send(pg.AuthenticationSASLFinal(f"v={verifier}".encode()))


def _client_first(message: str) -> tuple[str, str, str]:
    """(gs2 header, client-first-bare, client nonce). The SCRAM user name is ignored, as
    PostgreSQL does (libpq sends it empty): the startup packet's user is the identity."""
    if message.startswith("p="):
        raise ValueError("channel binding is not supported")
    cbind, sep, rest = message.partition(",")
    authzid, sep2, bare = rest.partition(",")
    if cbind not in ("n", "y") or not sep or not sep2:
        raise ValueError("malformed client-first-message")
    attributes = dict(item.split("=", 1) for item in bare.split(",") if "=" in item)
    if "r" not in attributes or not attributes["r"]:
        raise ValueError("client-first-message has no nonce")
    return f"{cbind},{authzid},", bare, attributes["r"]


def _client_final(message: str, header: str, nonce: str) -> tuple[str, bytes]:
    """(client-final-without-proof, proof), after checking channel binding and nonce."""
    without_proof, sep, proof = message.rpartition(",p=")
    if not sep:
        raise ValueError("client-final-message has no proof")
    attributes = dict(item.split("=", 1) for item in without_proof.split(",") if "=" in item)
    if attributes.get("c") != base64.b64encode(header.encode()).decode():
        raise ValueError("channel binding data does not match")
    if attributes.get("r") != nonce:
        raise ValueError("nonce does not match")
    return without_proof, base64.b64decode(proof, validate=True)


def _md5(password: str | None, user: str, salt: bytes) -> str | None:
    """PostgreSQL's md5 answer: 'md5' + md5(md5(password + user) + salt)."""
    if password is None:
        return None
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
