"""Project config loading (env expansion, precise errors) and the secret redactor."""
import logging

import pytest

from segsync.config import expand_env, load_config
from segsync.errors import InputError
from segsync.redact import RedactingFilter, redact, register_secret


def test_expand_env_with_defaults():
    env = {"A": "1"}
    assert expand_env({"x": "${A}", "y": ["${B:-two}", "${B}"]}, env) == {"x": "1", "y": ["two", ""]}


def test_repository_config_loads(tmp_path):
    config = load_config("segsync.yaml", env={"SALESFORCE_INSTANCE_URL": "https://sf"})
    assert config.sources["salesforce"]["instance_url"] == "https://sf"
    assert config.guardrails.max_remove_share == 0.2
    assert config.segments_path.name == "segment_defs"


def test_config_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "segsync.yaml"
    bad.write_text("guardrails:\n  max_remove_share: 3\n")
    with pytest.raises(InputError) as info:
        load_config(bad)
    problem = info.value.problems[0]
    assert problem.path == "guardrails.max_remove_share" and problem.value == 3
    bad.write_text("sources: [\n")
    with pytest.raises(InputError) as info:
        load_config(bad)
    assert info.value.problems[0].line == 2


def test_redact_masks_registered_secrets_and_bearer_tokens():
    register_secret("sk_test_supersecret123")
    assert redact("key=sk_test_supersecret123 ok") == "key=*** ok"
    assert redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"


def test_log_filter_redacts(caplog):
    register_secret("pat-na1-0000secret")
    logger = logging.getLogger("segsync.test")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    record = logger.makeRecord("x", logging.INFO, __file__, 1, "token %s", ("pat-na1-0000secret",), None)
    handler.filter(record)
    assert record.getMessage() == "token ***"
