"""Cleaning keeps what VADER reads and drops what it should not see."""

from __future__ import annotations

import pytest

from sugarglass.affect import LanguageGuesser, clean, clean_text, duplicate_key


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("RT @river_keepers: We are NOT giving up!!! :(", "We are NOT giving up!!! :("),
        ("thank you @tenants_union and @a_b for showing up <3", "thank you and for showing up <3"),
        ("Read it here https://example.org/a?b=1 and www.example.net/x today", "Read it here and today"),
        ("<p>Hope &amp; rage</p><p>both <b>true</b></p>", "Hope & rage both true"),
        ("grief 💔 then joy 🌱✊ :D", "grief 💔 then joy 🌱✊ :D"),
        ("ping @someone@social.example.org now", "ping now"),
        ("email me at hello@example.org", "email me at hello@example.org"),
        ("   \n\t  ", ""),
    ],
)
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned


def test_mastodon_html_is_reduced_to_its_words():
    html = (
        '<p><span class="h-card"><a href="https://x.example/@ana" class="u-url mention">@<span>ana</span></a></span> '
        'we won!! <a href="https://x.example/tags/water" class="mention hashtag">#<span>water</span></a></p>'
        '<p>details: <a href="https://example.org/win"><span class="invisible">https://</span>'
        '<span class="">example.org/win</span></a></p>'
    )
    assert clean_text(html) == "we won!! #water details:"


def test_duplicate_key_is_the_cleaned_text_exactly():
    """Spacing is collapsed by cleaning; case and width are kept, as VADER reads them apart."""
    assert duplicate_key(clean_text("We  march\tat NOON ")) == duplicate_key("We march at NOON")
    assert duplicate_key("We march at NOON") != duplicate_key("we march at noon")
    assert duplicate_key("STUPID rain") != duplicate_key("stupid rain")
    assert duplicate_key("ｇｏｏｄ day") != duplicate_key("good day")
    assert duplicate_key("We march at noon!") != duplicate_key("We march at noon")


def test_language_is_recorded_and_other_languages_flagged():
    guess = LanguageGuesser()
    assert clean("We are not going anywhere, this is our river", guess).language == "en"
    spanish = clean("Hoy marchamos por el agua y por la vida de todos", guess)
    assert spanish.language == "es" and not spanish.is_english
    assert clean("Wir bleiben hier, bis die Mieten sinken", guess).language == "de"
    only_emoji = clean("💚💚✊", guess)
    assert only_emoji.language is None and only_emoji.is_english
