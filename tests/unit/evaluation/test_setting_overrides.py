import pytest

from streamrec.evaluation.setting_overrides import (
    SettingOverrideError,
    effective_configuration,
    overrides_env,
    parse_setting_overrides,
)


def test_overrides_are_parsed_and_keys_normalised():
    overrides = parse_setting_overrides([
        "recs_blend=rank", "STREAMREC_RERANK_BUDGET_MS=3.5", "rerank-max-depth=50",
        "rerank_model_path=/tmp/model=v2.txt"])
    assert overrides == {"recs_blend": "rank", "rerank_budget_ms": "3.5",
                         "rerank_max_depth": "50",
                         "rerank_model_path": "/tmp/model=v2.txt"}
    assert overrides_env(overrides)["STREAMREC_RECS_BLEND"] == "rank"


def test_json_values_are_accepted_for_structured_settings():
    pairs = ['rewrite_model_prices={"m": {"input_usd_per_mtok": 1.0}}']
    assert "rewrite_model_prices" in parse_setting_overrides(pairs)


def test_an_unknown_key_is_refused_with_a_suggestion():
    with pytest.raises(SettingOverrideError, match="'recs_blnd' is not a setting") as info:
        parse_setting_overrides(["recs_blnd=rank"])
    assert "did you mean recs_blend" in str(info.value)


@pytest.mark.parametrize(("pair", "message"), [
    ("rerank_budget_ms=fast", "bad value for rerank_budget_ms"),
    ("encoder_quantization=float16", "bad value for encoder_quantization"),
    ("recs_blend", "expected KEY=VALUE"),
    ("kafka_bootstrap=127.0.0.1:9092", "chosen by the harness"),
])
def test_bad_pairs_are_refused_with_a_clear_message(pair: str, message: str):
    with pytest.raises(SettingOverrideError, match=message):
        parse_setting_overrides([pair])


def test_effective_configuration_lists_only_what_differs_from_the_defaults(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STREAMREC_RECS_BLEND", raising=False)
    config = effective_configuration({
        "STREAMREC_RECS_BLEND": "rank", "STREAMREC_RERANK_MAX_DEPTH": "100",
        "STREAMREC_TOPIC_PREFIX": "eval1234.", "STREAMREC_CATALOG_BATCH_SIZE": "256"})
    assert config["recs_blend"] == "rank"
    assert config["catalog_batch_size"] == 256
    assert "rerank_max_depth" not in config  # the default value
    assert "topic_prefix" not in config  # the harness's own deployment names
