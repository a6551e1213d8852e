import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.settings import JVM_OPTIONS_PATTERN, Settings


def test_defaults_suit_one_machine(monkeypatch):
    for key in ("DATELINE_INDEX", "DATELINE_NER_MODEL", "DATELINE_NER_MODELS", "DATELINE_SUMMARY_SENTENCES"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings(_env_file=None)
    assert settings.index == "articles"
    assert settings.summary_sentences == 3
    assert settings.max_file_bytes == 20 * 1024 * 1024
    assert settings.on_delete == "remove"
    assert settings.redis_url.startswith("redis://127.0.0.1")


def test_per_language_ner_models_come_from_json_env(monkeypatch):
    monkeypatch.setenv("DATELINE_NER_MODEL", "/models/en.pt")
    monkeypatch.setenv("DATELINE_NER_MODELS", '{"de": "flair/ner-german", "ur": ""}')
    settings = Settings(_env_file=None)
    assert settings.ner_model_for("de") == "flair/ner-german"
    assert settings.ner_model_for("en") == "/models/en.pt"  # the default covers the rest
    assert settings.ner_model_for("ur") is None  # explicitly no model: skipped


def test_empty_model_map_is_accepted(monkeypatch):
    monkeypatch.setenv("DATELINE_NER_MODELS", "")
    assert Settings(_env_file=None).ner_models == {}


def test_invalid_values_are_rejected(monkeypatch):
    monkeypatch.setenv("DATELINE_ON_DELETE", "archive")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


@pytest.mark.parametrize("name", ["DATELINE_INDEX_BATCH_SIZE", "DATELINE_INDEX_FLUSH_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_an_indexer_that_could_never_read_a_batch_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("DATELINE_").lower()):
        Settings(_env_file=None)


def test_the_source_folder_rule_is_an_ingest_setting(monkeypatch):
    assert Settings().source_from_folder is True
    monkeypatch.setenv("DATELINE_SOURCE_FROM_FOLDER", "false")
    assert Settings().source_from_folder is False
    assert "source_from_folder" in Settings.names_used_by("ingest")
    assert "source_from_folder" not in Settings.names_used_by("worker")


@pytest.mark.parametrize(
    "options",
    [
        "",
        "-XX:TieredStopAtLevel=1",
        " -XX:+UseSerialGC  -Des.x=1 ",
        "-XX:-AlwaysPreTouch -Dfile.encoding=UTF-8",
    ],
)
def test_more_elasticsearch_jvm_options_are_xx_or_d_options(options):
    assert Settings(_env_file=None, es_java_options=options).es_java_options == options


@pytest.mark.parametrize(
    "options",
    [
        "-Xmx4g",  # the heap is es_heap's
        "-javaagent:/tmp/agent.jar",
        "-XX:OnError=sh -c id",  # a command for the JVM to run
        "-cp /tmp",
        "-XX:TieredStopAtLevel=1;id",
        "-Dx=$(id)",
        "XX:TieredStopAtLevel=1",
        "-XX:TieredStopAtLevel=1\n-Xmx1g",
    ],
)
def test_other_elasticsearch_jvm_options_are_refused(options):
    with pytest.raises(ValueError, match="es_java_options"):
        Settings(_env_file=None, es_java_options=options)


@given(st.one_of(st.text(max_size=40), st.from_regex(JVM_OPTIONS_PATTERN, fullmatch=True)))
def test_accepted_jvm_options_split_into_xx_and_d_options_only(options):
    try:
        accepted = Settings(_env_file=None, es_java_options=options).es_java_options
    except ValueError:
        return
    for token in accepted.split():
        assert token.startswith(("-XX:", "-D")) and all(c.isprintable() for c in token)
        assert not any(c in token for c in "$;`|&<>'\"\\ ")


def test_a_refused_jvm_option_is_named_with_what_is_taken():
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None, es_java_options="-XX:TieredStopAtLevel=1 -Xmx4g")
    message = str(refused.value)
    assert "'-Xmx4g' is not taken" in message and "-XX: and -D options" in message
    assert "DATELINE_ES_HEAP" in message and "[A-Za-z]" not in message  # words, not the pattern
