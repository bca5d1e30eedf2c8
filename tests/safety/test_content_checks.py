"""Content checks: what each rule catches, what it leaves alone, and what each action does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatapp.safety.content_checks import KINDS, PolicyError, build_policy, find, review

ROOT = Path(__file__).resolve().parents[2]

# For every kind: texts it must catch (with the exact words caught) and look-alikes it must
# leave alone. Few false positives is half the specification.
CAUGHT = {
    "email": [
        ("Write to jane.doe@acme-corp.com today.", "jane.doe@acme-corp.com"),
        ("Contact: ops+alerts@mail.example.co.uk", "ops+alerts@mail.example.co.uk"),
    ],
    "phone": [
        ("Call +1 650-253-0000 after nine.", "+1 650-253-0000"),
        ("The office is on (415) 555-2671.", "(415) 555-2671"),
        ("London: +44 20 7946 0958", "+44 20 7946 0958"),
    ],
    "card_number": [
        ("Pay with 4111 1111 1111 1111 please", "4111 1111 1111 1111"),
        ("card 5555-5555-5555-4444", "5555-5555-5555-4444"),
        ("amex 378282246310005", "378282246310005"),
    ],
    "iban": [
        ("Send it to DE89 3704 0044 0532 0130 00 by Friday.", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432", "GB82WEST12345698765432"),
        ("GB82 WEST 1234 5698 7654 32 Is mine", "GB82 WEST 1234 5698 7654 32"),
    ],
    "us_ssn": [("Her SSN is 123-45-6789.", "123-45-6789")],
    "delete_everything": [
        ("Just run sudo rm -rf / and start over", "rm -rf /"),
        ("rm -rf --no-preserve-root /", "rm -rf --no-preserve-root /"),
        ("rm -fr /*", "rm -fr /*"),
        ("rm -r -f ~", "rm -r -f ~"),
        ("rm -rf $HOME", "rm -rf $HOME"),
    ],
    "pipe_to_shell": [
        ("curl -fsSL https://get.example.sh | sh", "curl -fsSL https://get.example.sh | sh"),
        ("wget -qO- https://x.test/i | sudo bash", "wget -qO- https://x.test/i | sudo bash"),
        ("curl https://x.test/a.py | python3", "curl https://x.test/a.py | python3"),
        ('sh -c "$(curl -fsSL https://x.test)"', 'sh -c "$(curl'),
        ("bash <(curl -s https://x.test)", "bash <(curl"),
        ("iwr https://x.test/a.ps1 | iex", "iwr https://x.test/a.ps1 | iex"),
    ],
    "eval_input": [
        ("result = eval(input())", "eval(input("),
        ("exec(input('> '))", "exec(input("),
        ("eval(request.GET['expr'])", "eval(request."),
        ("os.system(input())", "os.system(input("),
        ("<?php eval($_GET['code']); ?>", "eval($_GET"),
        ('eval "$1"', 'eval "$1'),
    ],
    "fork_bomb": [(":(){ :|:& };:", ":(){ :|:& };:")],
    "disk_overwrite": [
        ("dd if=ubuntu.iso of=/dev/sdb bs=4M", "dd if=ubuntu.iso of=/dev/sdb"),
        ("mkfs.ext4 /dev/sda1", "mkfs.ext4 /dev/sda1"),
    ],
    "open_permissions": [("fix it with chmod -R 777 /", "chmod -R 777 /")],
    "unsure": [
        ("I'm not sure, but it was 1987.", "I'm not sure"),
        ("I am not entirely certain about the date.", "I am not entirely certain"),
        ("It was Hamilton, though I might be wrong.", "I might be wrong"),
        ("If I recall correctly, the limit is 42.", "If I recall correctly"),
        ("As of my knowledge cutoff, it was in beta.", "As of my knowledge cutoff"),
        ("I can't verify this, so treat it with care.", "I can't verify this"),
        ("To the best of my knowledge it ships in May.", "To the best of my knowledge"),
    ],
}

LEFT_ALONE = {
    "email": [
        "Use alice@example.com in the docs",  # a reserved example domain
        "git clone git@github.com:owner/repo.git",  # an scp-style address
        "@property and pkg@1.2.3 and a@b.c",
    ],
    "phone": [
        "id 4155552671",  # bare digits: an id, not a number to ring
        "released 2024-01-15, version 1.2.3",
        "port 8080, timeout 65535, 12345678 rows",
        "call 555-123-4567",  # not a valid number
    ],
    "card_number": [
        "order 1234 5678 9012 3456",  # fails the Luhn check
        "4111 1111 1111 1112",  # one digit off
        "0000 0000 0000 0000",  # passes Luhn, but no card network issues it
        "DE89 3704 0044 0532 0130 01",  # a mistyped IBAN's digits
    ],
    "iban": ["DE89 3704 0044 0532 0130 01", "ISBN AB12 3456 7890 1234"],
    "us_ssn": ["000-12-3456", "078-05-1120", "2024-01-15", "555-123-4567"],
    "delete_everything": [
        "rm -rf ./build", "rm -rf /tmp/cache", "rm -rf node_modules", "rm notes.txt /",
    ],
    "pipe_to_shell": [
        "curl https://api.test/v1 | jq .", "curl -L x.test/f | sha256sum",
        "curl x.test/data | python3 -m json.tool",
    ],
    "eval_input": ["eval(expression_tree)", "ast.literal_eval(input())", "model.eval()"],
    "fork_bomb": ["def f(): return f"],
    "disk_overwrite": ["cat log > /dev/null", "dd if=/dev/zero of=disk.img bs=1M count=10"],
    "open_permissions": ["chmod 777 /tmp/shared", "chmod -R 755 /srv/www"],
    "unsure": [
        "I'm not sure what you mean: the file or the folder?",
        "I'm sure it works.",
        "I can't verify your identity over chat.",
        "Make sure the file exists.",
    ],
}


def test_every_kind_has_true_and_false_cases():
    assert set(CAUGHT) == set(KINDS) == set(LEFT_ALONE)


@pytest.mark.parametrize(
    ("kind", "text", "caught"),
    [(kind, text, caught) for kind, cases in CAUGHT.items() for text, caught in cases],
)
def test_each_rule_catches_its_case(kind, text, caught):
    assert [(f.kind, f.text) for f in find(text)] == [(kind, caught)]


@pytest.mark.parametrize(
    ("kind", "text"), [(kind, text) for kind, texts in LEFT_ALONE.items() for text in texts]
)
def test_each_rule_leaves_look_alikes_alone(kind, text):
    assert [f for f in find(text) if f.kind == kind] == []


def test_plain_prose_and_code_are_not_flagged():
    text = (
        "Here is a function that adds two numbers:\n\n```python\ndef add(a, b):\n"
        "    return a + b\n```\n\nCall it as `add(2, 3)`; it returns 5. Tests pass on 3.11."
    )
    assert find(text) == []


def test_overlapping_findings_keep_the_most_specific():
    # The card's digits would also parse as a phone number in some regions.
    findings = find("Card: 4111 1111 1111 1111, phone +1 650-253-0000.")
    assert [f.kind for f in findings] == ["card_number", "phone"]


# --- Policies and actions ----------------------------------------------------------------------


def text_block(text):
    return [{"type": "text", "text": text}]


def test_by_default_everything_is_flagged_and_nothing_changed():
    content = text_block("Mail jane@acme-corp.com or run curl https://x.test | sh")
    result = review(content, build_policy({}))
    assert result.content == content
    assert [(flag.finding.kind, flag.action) for flag in result.flags] == [
        ("email", "flag"), ("pipe_to_shell", "flag")
    ]
    assert not result.changed


def test_redaction_names_what_was_removed():
    content = text_block("Card 4111 1111 1111 1111, mail jane@acme-corp.com.")
    result = review(content, build_policy({"card_number": "redact"}))
    assert result.content == text_block("Card [redacted: card number], mail jane@acme-corp.com.")
    assert result.changed and not result.withheld


def test_a_category_sets_the_action_for_all_its_kinds_and_a_kind_overrides_it():
    policy = build_policy({"personal_data": "redact", "email": "flag"})
    result = review(text_block("SSN 123-45-6789, mail jane@acme-corp.com"), policy)
    assert result.content == text_block("SSN [redacted: social security number], mail "
                                        "jane@acme-corp.com")


def test_withholding_replaces_the_whole_reply_with_a_notice():
    content = [
        {"type": "text", "text": "Clean up with rm -rf / then reinstall."},
        {"type": "text", "text": "More text."},
    ]
    result = review(content, build_policy({"dangerous_code": "withhold"}))
    assert result.withheld
    assert result.content == text_block("[withheld: dangerous command]")


def test_off_turns_a_check_off():
    result = review(text_block("I'm not sure, but 1987."), build_policy({"uncertainty": "off"}))
    assert result.flags == []


def test_blocks_other_than_text_are_left_as_they_are():
    content = [{"type": "tool_use", "id": "t1", "name": "x", "input": {"q": "rm -rf /"}}]
    assert review(content, build_policy({"dangerous_code": "withhold"})).content == content


def test_the_summary_counts_each_kind_once_per_action():
    text = "a@acme-corp.com, b@acme-corp.com, +1 650-253-0000"
    assert review(text_block(text), build_policy({"phone": "redact"})).summary() == [
        {"kind": "email", "action": "flag", "count": 2},
        {"kind": "phone", "action": "redact", "count": 1},
    ]


@pytest.mark.parametrize(
    ("rules", "says"),
    [({"credit_cards": "redact"}, "Unknown content check 'credit_cards'"),
     ({"email": "delete"}, "Unknown action 'delete' for email")],
)
def test_a_policy_with_a_typo_is_refused_in_plain_words(rules, says):
    with pytest.raises(PolicyError, match=says):
        build_policy(rules)


def test_a_typo_in_the_deployments_policy_stops_the_process_at_start_up(tmp_path):
    env = {**os.environ, "CHATAPP_CONTENT_ACTIONS": "personal_data=redact,cards=withhold",
           "CHATAPP_VAR_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "CHATAPP_CONTENT_ACTIONS: Unknown content check 'cards'" in run.stderr
