"""What the administration page shows and does, without Streamlit: users (create, disable,
reset password, roles), every workbook and run, disk usage by user, the process's memory, the
cleanup on demand and the audit trail.

Every call takes the acting admin and goes through the store, which refuses non-admins and keeps
at least one enabled admin; refusals arrive as ``db.errors.StoreError`` with a sentence the page
shows as it is.
"""

from __future__ import annotations

import os
import resource
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from db.cleanup import CleanupReport, cleanup
from db.entities import ROLES as ROLES  # the page's role choices
from db.entities import Actor, User
from db.errors import StoreError as StoreError  # the refusals the page shows
from services.context import AppContext
from services.formatting import integer

_UNITS = ("bytes", "KB", "MB", "GB", "TB")


def size(n_bytes: float | None) -> str:
    """``1536000`` -> ``"1.46 MB"``: disk and memory sizes in binary units."""
    if n_bytes is None:
        return "–"
    value, unit = float(n_bytes), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{integer(value)} bytes" if unit == 0 else f"{value:,.2f} {_UNITS[unit]}"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "–"


def user_status(user: User) -> str:
    return "disabled" if user.disabled else "locked" if user.locked else "active"


def user_rows(ctx: AppContext, actor: Actor) -> list[dict[str, Any]]:
    return [{"id": u.id, "username": u.username, "name": u.display_name, "email": u.email,
             "roles": ", ".join(u.roles), "status": user_status(u),
             "failed logins": u.failed_attempts, "last login": _when(u.last_login),
             "created": _when(u.created)}
            for u in ctx.store.list_users(actor)]


def create_user(ctx: AppContext, actor: Actor, username: str, password: str,
                display_name: str = "", email: str = "",
                roles: Sequence[str] = ("analyst",)) -> User:
    return ctx.store.create_user(username, password, display_name=display_name.strip(),
                                 email=email.strip(), roles=roles, actor=actor)


def update_user(ctx: AppContext, actor: Actor, user: User, roles: Sequence[str],
                disabled: bool) -> list[str]:
    """Applies the roles and the enabled state chosen in the form, each only when it changed
    (so each change is one audit entry); returns what changed, in words. Enabling an account
    also unlocks it."""
    changes = []
    if tuple(roles) != user.roles:
        ctx.store.set_roles(actor, user.id, roles)
        changes.append(f"roles set to {', '.join(roles) or 'none'}")
    if disabled != user.disabled:
        ctx.store.set_disabled(actor, user.id, disabled)
        changes.append("disabled" if disabled else "enabled")
    return changes


def reset_password(ctx: AppContext, actor: Actor, user_id: int, password: str = "") -> str:
    """Sets the password the admin typed, or a random one when left empty, and returns it so
    it can be shown once; this also unlocks the account."""
    password = password or secrets.token_urlsafe(12)
    ctx.store.set_password(actor, user_id, password)
    return password


def workbook_rows(ctx: AppContext, actor: Actor) -> list[dict[str, Any]]:
    names = _usernames(ctx, actor)
    return [{"id": w.id, "owner": names.get(w.owner_id, str(w.owner_id)),
             "file": w.filename, "size": size(w.size_bytes), "uploaded": _when(w.uploaded),
             "on disk": Path(w.stored_path).is_file()}
            for w in ctx.store.list_workbooks(actor)]


def run_rows(ctx: AppContext, actor: Actor) -> list[dict[str, Any]]:
    names = _usernames(ctx, actor)
    return [{"id": r.id, "owner": names.get(r.owner_id, str(r.owner_id)),
             "workbook": r.workbook_id, "status": r.status,
             "progress": f"{r.progress:.0%}", "iterations": integer(r.iterations),
             "created": _when(r.created), "finished": _when(r.finished), "error": r.error or ""}
            for r in ctx.store.list_runs(actor)]


def _usernames(ctx: AppContext, actor: Actor) -> dict[int, str]:
    return {u.id: u.username for u in ctx.store.list_users(actor)}


def usage_rows(report: CleanupReport) -> list[dict[str, Any]]:
    """Disk usage by user from a cleanup pass, largest first."""
    return [{"user": u.username, "workbooks": u.workbooks, "workbook files": size(u.workbook_bytes),
             "runs with samples": u.runs_with_samples, "samples": size(u.sample_bytes),
             "total": size(u.total_bytes)}
            for u in sorted(report.usage.values(), key=lambda u: -u.total_bytes)]


def run_cleanup(ctx: AppContext, actor: Actor) -> CleanupReport:
    """A cleanup pass now (recorded under the admin), kept as the schedule's latest report so
    the page shows its figures until the next pass."""
    report = cleanup(ctx.store, ctx.samples, ctx.settings, actor=actor)
    ctx.cleanup.last_report = report
    return report


def process_memory() -> dict[str, int | None]:
    """The server process's resident memory now (Linux: /proc) and at its peak, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes on Linux
    statm = Path("/proc/self/statm")
    current = (int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
               if statm.exists() else None)
    return {"current": current, "peak": peak}


def audit_rows(ctx: AppContext, actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
    names = _usernames(ctx, actor)
    return [{"at": _when(e.at),
             "who": "system" if e.actor_id is None else names.get(e.actor_id, str(e.actor_id)),
             "action": e.action, "target": e.target,
             "detail": ", ".join(f"{k}: {v}" for k, v in e.detail.items()
                                 if not isinstance(v, dict | list))}
            for e in ctx.store.list_audit(actor, limit)]
