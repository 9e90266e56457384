from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pressroom.generation.kinds import NETWORK_LIMITS, Network
from pressroom.generation.social import compose, hashtags, post_length

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points


class TestPostLength:
    def test_twitter_counts_urls_as_23(self) -> None:
        url = "https://example.org/" + "a" * 100
        assert post_length(Network.TWITTER, f"read {url}") == 5 + 23

    def test_twitter_counts_emoji_and_cjk_as_two(self) -> None:
        assert post_length(Network.TWITTER, FAMILY) == 2
        assert post_length(Network.TWITTER, "日本") == 4
        assert post_length(Network.TWITTER, "café") == 4

    def test_twitter_normalises_to_nfc(self) -> None:
        assert post_length(Network.TWITTER, "cafe\u0301") == 4

    def test_bluesky_counts_graphemes(self) -> None:
        assert post_length(Network.BLUESKY, f"hi {FAMILY}") == 4

    def test_mastodon_counts_code_points_and_urls_as_23(self) -> None:
        assert post_length(Network.MASTODON, FAMILY) == 5
        assert post_length(Network.MASTODON, "https://example.org/" + "b" * 60) == 23

    def test_threads_and_linkedin_count_utf16_units(self) -> None:
        assert post_length(Network.THREADS, "\U0001f600") == 2
        assert post_length(Network.LINKEDIN, "abc") == 3


class TestHashtags:
    def test_camel_case_and_dedup(self) -> None:
        assert hashtags(["heat pumps", "Heat Pumps", "x", "2024", "Marston"], 5) == [
            "#HeatPumps",
            "#Marston",
        ]


class TestCompose:
    def test_drops_hashtags_before_cutting_text(self) -> None:
        sentence = "word " * 50  # 250 characters
        post = compose(Network.TWITTER, [sentence.strip()], tags=["#Alpha", "#Beta", "#Gamma"])
        assert post.startswith(sentence.strip())
        assert post_length(Network.TWITTER, post) <= 280

    def test_cuts_on_a_word_with_ellipsis(self) -> None:
        post = compose(Network.BLUESKY, ["lorem ipsum " * 60], url="https://example.org/x")
        first = post.split("\n\n")[0]
        assert first.endswith("…")
        assert first[:-1].split(" ")[-1] in {"lorem", "ipsum"}
        assert "https://example.org/x" in post

    @settings(max_examples=60, deadline=None)
    @given(
        network=st.sampled_from(list(Network)),
        chunks=st.lists(st.text(min_size=1, max_size=900), min_size=1, max_size=4),
        tags=st.lists(st.from_regex(r"#[A-Za-z]{3,12}", fullmatch=True), max_size=4),
    )
    def test_always_within_the_limit(
        self, network: Network, chunks: list[str], tags: list[str]
    ) -> None:
        post = compose(network, chunks, url="https://example.org/post/1", tags=tags)
        assert post_length(network, post) <= NETWORK_LIMITS[network]
