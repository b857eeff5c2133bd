"""Two-factor sign-in over HTTP: `two_factor_controller(auth)` (`create_app` adds it).

| route | does |
|---|---|
| `GET /api/auth/two-factor` | `{enabled, enabled_at, recovery_codes_left}` |
| `POST /api/auth/two-factor/setup` `{password}` | a secret to confirm: `{secret, uri}` |
| `POST /api/auth/two-factor/enable` `{code}` | on: `{recovery_codes}`, shown this once |
| `POST /api/auth/two-factor/disable` `{password, code}` | 204: off, trusted devices forgotten |
| `POST /api/auth/two-factor/recovery-codes` `{password, code}` | ten new codes |
| `GET /api/auth/two-factor/devices` | the trusted devices |
| `DELETE /api/auth/two-factor/devices[/{id}]` | 204: forgotten |

The sign-in's second step, `POST /api/auth/login/two-factor`, is the auth
controller's (`stackkit.auth.api`). Each route here needs a session; those that
weaken the account (off, new recovery codes) need the password and a code, and
the password's guesses count against the account's sign-in limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stackkit.auth.api import account_key, current_user, signed_in_user
from stackkit.auth.config import Auth
from stackkit.auth.two_factor import TwoFactor
from stackkit.errors import ConflictError, ProblemError, ValidationProblem
from stackkit.http.routing import Controller

__all__ = ["two_factor_controller"]


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, description="The app's current code.")


class PasswordAndCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(
        min_length=1, max_length=32, description="The app's current code, or a recovery code."
    )


class DevicePath(BaseModel):
    id: str = Field(max_length=100)


class TwoFactorOut(BaseModel):
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int
    required_for: list[str] = Field(
        description="Roles of yours that count only with it on (`STACKKIT_REQUIRE_2FA_FOR`)."
    )


class EnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, for typing into an authenticator app.")
    uri: str = Field(description="The otpauth:// address a QR code holds.")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown this once; each works once.")


class TrustedDeviceOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None


def _no_store(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def two_factor_controller(auth: Auth) -> Controller:
    """The routes of the signed-in user's second factor, for `create_app`."""
    config = auth.config
    api = Controller(f"{config.prefix}/two-factor", tags=["auth"], cache_ttl=0)

    def factor() -> TwoFactor:
        if auth.two_factor is None:
            raise ProblemError(404, "This app has no two-factor sign-in.")
        return auth.two_factor

    async def check_password(row: Any, password: str) -> None:
        await auth.limiter.enforce(
            account_key("login", row.email), config.login_limit_per_account, fail_open=False
        )
        if not (await config.hasher.verify(row.password_hash, password)).ok:
            raise ValidationProblem.for_field("password", "This is not your current password.")

    async def check_code(request: Request, row: Any, code: str) -> None:
        """The app's code, or a recovery code (spent, and recorded)."""
        two_factor = factor()
        if await two_factor.verify(row.id, code):
            return
        if await two_factor.use_recovery_code(row.id, code):
            await auth.audit(request, "two_factor.recovery_code_used", subject_id=row.id)
            return
        raise ValidationProblem.for_field("code", "This code is not right, or was used already.")

    async def roles_changed(user_id: int) -> None:
        """Turning it on or off changes the roles `STACKKIT_REQUIRE_2FA_FOR` grants: API
        keys are read anew (the next refresh gives tokens the new roles)."""
        if auth.api_keys is not None and auth.settings.require_2fa_for:
            await auth.api_keys.suspend(user_id)

    @api.get("", name="two_factor_status", response=TwoFactorOut)
    async def status(request: Request) -> TwoFactorOut:
        """Whether your sign-ins ask for a code, and how many recovery codes are left."""
        row = await current_user(request)
        found = await factor().status(row.id)
        needing = set(auth.settings.require_2fa_for).intersection(row.roles or ())
        return TwoFactorOut(
            enabled=found.enabled,
            enabled_at=found.enabled_at,
            recovery_codes_left=found.recovery_codes_left,
            required_for=sorted(needing),
        )

    @api.post("/setup", name="two_factor_setup", response=EnrolmentOut)
    async def setup(request: Request, body: PasswordIn) -> Response:
        """A new secret for your authenticator app: confirm it with a code at `/enable`."""
        signed_in_user(request)
        row = await current_user(request)
        await check_password(row, body.password)
        enrolment = await factor().start(row.id, row.email)
        if enrolment is None:
            raise ConflictError("Two-factor sign-in is on already: turn it off first.")
        return _no_store(EnrolmentOut(secret=enrolment.secret, uri=enrolment.uri))

    @api.post("/enable", name="two_factor_enable", response=RecoveryCodesOut)
    async def enable(request: Request, body: CodeIn) -> Response:
        """Turn two-factor sign-in on with a first code from the app; your recovery
        codes, shown this once."""
        row = await current_user(request)
        await auth.limiter.enforce(
            account_key("two-factor-enable", row.email), config.login_limit_per_account
        )
        codes = await factor().enable(row.id, body.code)
        if codes is None:
            raise ValidationProblem.for_field(
                "code", "This code is not right: check the app's clock, or set up again."
            )
        await auth.audit(request, "two_factor.enabled", subject_id=row.id)
        await roles_changed(row.id)
        return _no_store(RecoveryCodesOut(recovery_codes=codes))

    @api.post("/disable", name="two_factor_disable", status_code=204)
    async def disable(request: Request, body: PasswordAndCodeIn) -> None:
        """Turn two-factor sign-in off: it needs your password and a code."""
        row = await current_user(request)
        await check_password(row, body.password)
        if not (await factor().status(row.id)).enabled:
            raise ConflictError("Two-factor sign-in is off already.")
        needing = sorted(set(auth.settings.require_2fa_for).intersection(row.roles or ()))
        if needing:
            raise ConflictError(
                f"Your role {', '.join(needing)} needs two-factor sign-in: it stays on."
            )
        await check_code(request, row, body.code)
        await factor().disable(row.id)
        await auth.trusted_devices.revoke_all(str(row.id))
        await auth.audit(request, "two_factor.disabled", subject_id=row.id)

    @api.post("/recovery-codes", name="two_factor_recovery_codes", response=RecoveryCodesOut)
    async def new_recovery_codes(request: Request, body: PasswordAndCodeIn) -> Response:
        """Ten new recovery codes; the old ones stop working."""
        row = await current_user(request)
        await check_password(row, body.password)
        if not (await factor().status(row.id)).enabled:
            raise ConflictError("Turn two-factor sign-in on first.")
        await check_code(request, row, body.code)
        codes = await factor().new_recovery_codes(row.id)
        await auth.audit(request, "two_factor.recovery_codes_made", subject_id=row.id)
        return _no_store(RecoveryCodesOut(recovery_codes=codes))

    @api.get("/devices", name="trusted_devices", response=list[TrustedDeviceOut])
    async def devices(request: Request) -> list[TrustedDeviceOut]:
        """The browsers that skip the code at sign-in, the soonest to expire first."""
        user = signed_in_user(request)
        return [
            TrustedDeviceOut(
                id=device.id,
                created_at=_time(device.created_at),
                expires_at=_time(device.expires_at),
                user_agent=device.data.get("user_agent"),
                address=device.data.get("address"),
            )
            for device in await auth.trusted_devices.list(user.id)
        ]

    @api.delete("/devices/{id}", name="forget_trusted_device")
    async def forget_device(request: Request, path: DevicePath) -> None:
        """Forget one trusted browser: its next sign-in asks for a code."""
        user = signed_in_user(request)
        device = await auth.trusted_devices.get(path.id)
        if device is None or device.user_id != user.id:
            raise ProblemError(404, "You have no trusted device with this id.")
        await auth.trusted_devices.revoke(device.id)

    @api.delete("/devices", name="forget_trusted_devices")
    async def forget_devices(request: Request) -> None:
        """Forget every trusted browser."""
        user = signed_in_user(request)
        await auth.trusted_devices.revoke_all(user.id)

    return api
