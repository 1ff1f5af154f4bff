"""Shared page plumbing: settings, the cached service, sign-in, and error display.

Errors raised by the enclave carry messages written for users (what was wrong, what to
do next, never a data value), so pages show them as they are; anything else is shown as
a generic message, never as a stack trace.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import streamlit as st

from dashboards import _data
from enclave.errors import EnclaveError, Forbidden, Unauthorized
from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.service import Principal

__all__ = ["guard", "legend", "service", "settings", "sign_in", "signed_in"]

log = logging.getLogger("enclave.dashboards")

_LEGEND = (
    ("red", "alert: EARS signal (C1/C2 ≥ 3 sd or C3 ≥ 2)"),
    ("yellow", "warning (C1/C2 ≥ 2 sd or C3 ≥ 1)"),
    ("none", "no signal"),
    ("grey", "not enough baseline"),
)


def settings() -> Settings:
    """The dashboards' one read of the environment (they are an edge, like the CLI)."""
    return Settings.from_environ()


@st.cache_resource(show_spinner=False)
def _service(home: str, policies: str) -> Any:
    return _data.open_service(settings())


def service() -> Any:
    """The in-process service for this ENCLAVE_HOME (one per server process)."""
    s = settings()
    return _service(str(s.home), str(s.policies_dir))


class Failed(Exception):
    """Raised inside ``guard`` callers to stop after the message is shown."""


@contextmanager
def guard(what: str = "That") -> Iterator[None]:
    """Show enclave errors as ``st.error`` (the user's message) and anything else generically."""
    try:
        yield
    except Unauthorized as exc:
        st.session_state.pop("token", None)
        st.error(f"{exc.message} Your session has ended; sign in again.")
    except Forbidden as exc:
        st.error(exc.message)
    except EnclaveError as exc:
        st.error(f"{what} was refused ({type(exc).__name__}): {exc.message}")
    except Exception as exc:
        # Server log only: the error type and where it happened, never its message
        # (engine text can carry data values).
        where = traceback.extract_tb(exc.__traceback__)[-1]
        log.error(
            "%s: unexpected %s at %s:%s", what, type(exc).__name__, where.filename, where.lineno
        )
        st.error(
            f"{what} failed on the server side (probably a bug); nothing was released. "
            "Try again, or tell the steward the time it happened."
        )


def sign_in(role: str, key: str = "token") -> Principal | None:
    """A sign-in form; the principal when a valid token of ``role`` is in the session.

    The token is checked again on every page run, so a revoked or expired token ends
    the session at once with a message.
    """
    token = st.session_state.get(key)
    if token:
        try:
            principal = _data.principal_for(service(), token, role)
        except (Unauthorized, Forbidden) as exc:
            st.session_state.pop(key, None)
            st.error(f"{exc.message} Sign in again with a valid {role} token.")
        except EnclaveError as exc:
            st.error(exc.message)
            return None
        else:
            with st.sidebar:
                st.caption(f"Signed in as **{principal.user}** ({principal.role})")
                if st.button("Sign out", key=f"{key}_signout"):
                    st.session_state.pop(key, None)
                    st.rerun()
            return principal
    with st.form(f"{key}_form"):
        entered = st.text_input("API token", type="password", key=f"{key}_input")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            _data.principal_for(service(), entered, role)
        except (Unauthorized, Forbidden) as exc:
            st.error(exc.message)
        except EnclaveError as exc:
            st.error(exc.message)
        else:
            st.session_state[key] = entered.strip()
            st.rerun()
    return None


def signed_in(role: str, hint: str, key: str = "token") -> Principal:
    """``sign_in``, and the page stops with ``hint`` until a valid token is in."""
    principal = sign_in(role, key=key)
    if principal is None:
        st.info(hint)
        st.stop()
    return principal


def legend() -> None:
    """The ESSENCE-style colour legend."""
    from enclave.indicators import LEVEL_COLOURS

    chips = " ".join(
        f"<span style='background:{LEVEL_COLOURS[lvl]};padding:2px 10px;border-radius:3px;"
        f"border:1px solid #999'>&nbsp;</span> {text}"
        for lvl, text in _LEGEND
    )
    st.markdown(chips, unsafe_allow_html=True)
