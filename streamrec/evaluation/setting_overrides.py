"""``--set KEY=VALUE``: settings overrides of an evaluated deployment, checked up front.

A key is a field of ``streamrec.settings.Settings`` (``rerank_model_path``; the
``STREAMREC_`` prefix, upper case and dashes are accepted too). A value is checked by
building ``Settings`` with it, so a typo or a bad value fails before any process starts.
The overrides reach the worker and API processes as ``STREAMREC_<KEY>`` variables.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from streamrec.settings import Settings

ENV_PREFIX = "STREAMREC_"
DEPLOYMENT_FIELDS = frozenset({
    "kafka_bootstrap", "redis_url", "topic_prefix", "redis_key_prefix", "state_dir",
    "api_host", "api_port", "worker_web_port", "kafka_port", "kafka_controller_port",
    "redis_port", "cache_dir", "data_dir", "index_dir",
})
"""Set by the harness for each run's own Kafka, Redis, names and ports: not overridable,
and left out of the configuration a report compares."""


class SettingOverrideError(ValueError):
    """A ``--set`` that names no setting, or whose value the setting refuses."""


def setting_key(raw: str) -> str:
    """``STREAMREC_RERANK-MODEL-PATH`` -> ``rerank_model_path``."""
    key = raw.strip().replace("-", "_").lower()
    prefix = ENV_PREFIX.lower()
    return key[len(prefix):] if key.startswith(prefix) else key


def parse_setting_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``["recs_blend=rank", ...]`` -> ``{"recs_blend": "rank"}``, every key and value checked."""
    out: dict[str, str] = {}
    fields = Settings.model_fields
    for pair in pairs:
        if "=" not in pair:
            raise SettingOverrideError(f"--set {pair!r}: expected KEY=VALUE, e.g. "
                                       "--set recs_blend=rank")
        raw_key, value = pair.split("=", 1)
        key = setting_key(raw_key)
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SettingOverrideError(
                f"--set {pair!r}: {key!r} is not a setting of streamrec.settings.Settings"
                f"{hint} (run `streamrec eval settings` for the list)")
        if key in DEPLOYMENT_FIELDS:
            raise SettingOverrideError(
                f"--set {pair!r}: {key} is chosen by the harness for each run's own "
                "deployment and cannot be overridden")
        _check_value(key, value, pair)
        out[key] = value
    return out


def _check_value(key: str, value: str, pair: str) -> None:
    errors = []
    for candidate in _candidates(value):
        try:
            Settings(**{key: candidate})
            return
        except ValidationError as exc:
            errors.append(exc.errors()[0].get("msg", str(exc)))
    raise SettingOverrideError(f"--set {pair!r}: bad value for {key}: {errors[0]}")


def _candidates(value: str) -> list[Any]:
    """The value as typed, then as JSON (for lists, maps and null)."""
    out: list[Any] = [value]
    with contextlib.suppress(ValueError):
        out.append(json.loads(value))
    return out


def overrides_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """``{"recs_blend": "rank"}`` -> ``{"STREAMREC_RECS_BLEND": "rank"}``."""
    return {f"{ENV_PREFIX}{key.upper()}": value for key, value in overrides.items()}


def effective_configuration(env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting the run's processes see that differs from its default (deployment
    fields left out), from the caller's environment plus ``env`` (``STREAMREC_*``)."""
    merged = {**{k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}, **env}
    values: dict[str, Any] = {}
    for name, raw in merged.items():
        key = setting_key(name)
        if key in Settings.model_fields and key not in DEPLOYMENT_FIELDS:
            values[key] = raw
    effective = _settings_from_strings(values)
    defaults = Settings.model_construct().model_dump(mode="json")
    current = effective.model_dump(mode="json")
    return {key: current[key] for key in sorted(current)
            if key not in DEPLOYMENT_FIELDS and current[key] != defaults.get(key)}


def _settings_from_strings(values: Mapping[str, str]) -> Settings:
    typed: dict[str, Any] = {}
    for key, value in values.items():
        for candidate in _candidates(value):
            try:
                Settings(**{key: candidate})
            except ValidationError:
                continue
            typed[key] = candidate
            break
    return Settings(**typed)
