from chatapp.titles import clean_title


def test_titles_are_one_short_plain_line():
    assert clean_title('"Trip to Lisbon."\nMore text') == "Trip to Lisbon"
    assert clean_title("# **Planning** a very long trip across the whole of Europe") == (
        "Planning a very long trip across"
    )
    assert clean_title("\n\n  ") == ""
