"""Upper bounds on a prompt's tokens, known without asking the API."""

from chatapp.claude.token_bounds import IMAGE_CAP_TOKENS, request_bound, text_bound


def test_text_is_bounded_at_a_token_per_three_bytes():
    assert text_bound("hello world!") == 4
    assert text_bound("日本語") == 3  # 9 bytes: CJK runs about a token a character


def test_a_text_request_is_bounded_with_its_system_prompt_and_tools():
    plain = {"messages": [{"role": "user", "content": "hello world!"}]}
    with_system = {**plain, "system": [{"type": "text", "text": "Be brief. " * 30}],
                   "tools": [{"name": "clock", "input_schema": {"type": "object"}}]}
    assert request_bound(plain) < request_bound(with_system)
    assert request_bound(with_system) > text_bound("Be brief. " * 30)


def test_an_image_counts_as_the_largest_image_there_is():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}
    request = {"messages": [{"role": "user", "content": [image]}]}
    assert request_bound(request) >= IMAGE_CAP_TOKENS


def test_a_request_with_a_document_has_no_local_bound():
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                               "data": "JVBERi0xLjQK"}}
    request = {"messages": [{"role": "user", "content": [document,
                                                         {"type": "text", "text": "Sum it up"}]}]}
    assert request_bound(request) is None  # a PDF's pages are images too: only a count knows
