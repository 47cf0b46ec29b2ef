"""E-mail outcomes: SMTP replies, VERP return paths, and DSNs as Postfix 3.7 really writes them.

The POSTFIX_* samples were captured from the tests' private Postfix (tests/peers/mail.py):
the adapter's mail relayed to a next hop that refused it at RCPT (550 5.1.1, or 451 4.3.0
until the message expired), Postfix's own DSN to the VERP return path, as it arrived.
"""

from __future__ import annotations

import uuid

import pytest

from services.connectors.domain.email_outcomes import (
    classify_reply,
    delivery_from_return_path,
    enhanced_status,
    parse_dsn,
    queue_id,
    read_bounce,
    reply_detail,
    return_path,
)
from services.connectors.ports import SubmitStatus
from shared.events import DeliveryOutcome

FAILED_ID = uuid.UUID("6f1c3e0a-2b7d-4c55-9a0e-3d2f8b1c4e77")
TEMPFAIL_ID = uuid.UUID("b3a9d2e4-5c6f-4e1a-8b7d-2c9e0f1a3b5d")
FULL_RETURN_ID = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
DOMAIN = "bounces.bin.example.org"


def verp(delivery_id: uuid.UUID) -> str:
    return return_path(delivery_id, "bounces", DOMAIN)


# ── SMTP replies ────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("code", "text", "status", "detail"),
    [
        (250, "2.0.0 Ok: queued as 7188820CA7F", SubmitStatus.ACCEPTED, "250 2.0.0"),
        (251, "User not local; will forward", SubmitStatus.ACCEPTED, "251"),
        (
            550,
            "5.1.1 <jan.peeters@example.net>: Recipient address rejected: User unknown",
            SubmitStatus.PERMANENT_FAILURE,
            "550 5.1.1",
        ),
        (
            554,
            "5.7.1 <jan@example.net>: Relay access denied",
            SubmitStatus.PERMANENT_FAILURE,
            "554 5.7.1",
        ),
        (
            451,
            "4.3.0 <jan@example.net>: Temporary lookup failure",
            SubmitStatus.TEMPORARY_FAILURE,
            "451 4.3.0",
        ),
        (452, "Too many recipients", SubmitStatus.TEMPORARY_FAILURE, "452"),
        (354, "End data with <CR><LF>.<CR><LF>", SubmitStatus.TEMPORARY_FAILURE, "354"),
    ],
)
def test_a_reply_code_gives_the_status_and_a_detail_without_the_address(
    code: int, text: str, status: SubmitStatus, detail: str
) -> None:
    outcome = classify_reply(code, text)
    assert (outcome.status, outcome.detail) == (status, detail)


def test_the_enhanced_status_is_not_read_out_of_an_ip_address() -> None:
    assert enhanced_status("host 10.2.5.4[10.2.5.4] said: 550 5.7.1 refused") == "5.7.1"
    assert enhanced_status("host 127.0.0.1 said: 550 no enhanced code") is None
    assert reply_detail(550, "host 192.168.4.2.1 said nothing") == "550"


def test_the_queue_id_is_read_from_the_reply_to_data() -> None:
    assert queue_id("2.0.0 Ok: queued as 7188820CA7F") == "7188820CA7F"
    assert queue_id("2.0.0 OK id=1rZ4aB-0003xY-Q2") is None


# ── VERP ────────────────────────────────────────────────────────────────────────────────


def test_a_return_path_names_its_delivery() -> None:
    address = verp(FAILED_ID)
    assert address == f"bounces+{FAILED_ID.hex}@{DOMAIN}"
    assert delivery_from_return_path(address) == FAILED_ID
    assert (
        delivery_from_return_path(f"<{address.upper()}>", local_part="bounces", domain=DOMAIN)
        == FAILED_ID
    )
    assert delivery_from_return_path(f"rfc822; {address}") == FAILED_ID


@pytest.mark.parametrize(
    "address",
    [
        "",
        "jan.peeters@example.net",
        f"bounces@{DOMAIN}",
        f"bounces+{'a' * 31}@{DOMAIN}",
        f"bounces+{'a' * 33}@{DOMAIN}",
        f"bounces+{'g' * 32}@{DOMAIN}",
        f"bounces+{FAILED_ID.hex}",
        f"bounces+{FAILED_ID.hex}@{DOMAIN}@evil.example",
    ],
)
def test_anything_else_names_no_delivery(address: str) -> None:
    assert delivery_from_return_path(address) is None


def test_only_our_bounce_mailbox_counts_when_it_is_given() -> None:
    address = verp(FAILED_ID)
    assert delivery_from_return_path(address, local_part="other", domain=DOMAIN) is None
    assert delivery_from_return_path(address, local_part="bounces", domain="example.org") is None


# ── DSNs ────────────────────────────────────────────────────────────────────────────────


def test_postfix_failed_dsn_is_a_permanent_failure_of_the_verp_delivery() -> None:
    [report] = parse_dsn(POSTFIX_FAILED, [verp(FAILED_ID)])
    assert report.outcome is DeliveryOutcome.PERMANENT_FAILURE
    assert report.delivery_id == FAILED_ID
    assert report.detail == "550 5.1.1"


def test_the_bounce_envelope_recipient_names_the_delivery_before_anything_inside() -> None:
    other = uuid.uuid4()
    [report] = parse_dsn(POSTFIX_FAILED, [verp(other)])
    assert report.delivery_id == other


def test_without_the_envelope_the_original_envelope_id_names_the_delivery() -> None:
    [report] = parse_dsn(POSTFIX_FAILED)
    assert report.delivery_id == FAILED_ID


def test_line_endings_as_they_come_over_smtp_read_the_same() -> None:
    [report] = parse_dsn(POSTFIX_FAILED.replace(b"\n", b"\r\n"))
    assert (report.delivery_id, report.detail) == (FAILED_ID, "550 5.1.1")


def test_a_delay_notice_is_an_intermediate_report() -> None:
    [report] = parse_dsn(POSTFIX_DELAYED, [verp(TEMPFAIL_ID)])
    assert report.outcome is None
    assert (report.delivery_id, report.detail) == (TEMPFAIL_ID, "451 4.3.0")


def test_a_message_expired_in_the_relays_queue_is_a_permanent_failure() -> None:
    [report] = parse_dsn(POSTFIX_EXPIRED, [verp(TEMPFAIL_ID)])
    assert report.outcome is DeliveryOutcome.PERMANENT_FAILURE
    assert report.detail == "451 4.3.0"


def test_the_returned_messages_x_bin_delivery_header_names_the_delivery_last() -> None:
    # This DSN returns the whole message (no RET=HDRS) and has no Original-Envelope-Id.
    [report] = parse_dsn(POSTFIX_FULL_RETURN)
    assert report.delivery_id == FULL_RETURN_ID
    assert report.outcome is DeliveryOutcome.PERMANENT_FAILURE


def test_or_else_the_returned_messages_message_id() -> None:
    dsn = POSTFIX_FULL_RETURN.replace(b"X-BIN-Delivery:", b"X-Other:")
    [report] = parse_dsn(dsn)
    assert report.delivery_id == FULL_RETURN_ID


def test_each_recipient_part_is_one_report() -> None:
    # An MTA that bounces after expanding an alias reports each final recipient.
    second = (
        b"\nFinal-Recipient: rfc822; jan@example.net\nAction: delivered\nStatus: 2.0.0\n"
        b"\nFinal-Recipient: rfc822; an@example.net\nAction: relayed\nStatus: 2.0.0\n"
        b"\nFinal-Recipient: rfc822; el@example.net\nAction: bizarre\nStatus: 2.0.0\n"
    )
    dsn = POSTFIX_FAILED.replace(
        b"    address rejected: User unknown\n", b"    address rejected: User unknown\n" + second
    )
    reports = parse_dsn(dsn)
    assert [r.outcome for r in reports] == [
        DeliveryOutcome.PERMANENT_FAILURE,
        DeliveryOutcome.DELIVERED,
        None,
    ]
    assert [r.detail for r in reports] == ["550 5.1.1", "2.0.0", "2.0.0"]


def test_no_detail_carries_an_address() -> None:
    for sample in (POSTFIX_FAILED, POSTFIX_DELAYED, POSTFIX_EXPIRED, POSTFIX_FULL_RETURN):
        for report in parse_dsn(sample):
            assert report.detail is not None and "@" not in report.detail


AUTO_REPLY = b"""\
From: Jan Peeters <jan.peeters@example.net>
To: bounces+6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bounces.bin.example.org
Subject: Afwezig: BIN-melding
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

Ik ben afwezig tot maandag.
"""

READ_RECEIPT = b"""\
From: jan.peeters@example.net
To: bounces+6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bounces.bin.example.org
Subject: Read: BIN-melding
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="b"

--b
Content-Type: text/plain

Your message was read.
--b
Content-Type: message/disposition-notification

Final-Recipient: rfc822; jan.peeters@example.net
Disposition: manual-action/MDN-sent-manually; displayed
--b--
"""


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe" * 100,
        b"not a mail at all",
        b'Content-Type: multipart/report; boundary="x"\n\n'
        b"--x\nContent-Type: message/delivery-status\n\n",
        b"Content-Type: multipart/report\n\n\xff\xfe garbage without boundary",
        AUTO_REPLY,
        READ_RECEIPT,
    ],
    ids=["empty", "binary", "text", "empty-status", "no-boundary", "auto-reply", "read-receipt"],
)
def test_garbage_and_other_mail_give_no_report(raw: bytes) -> None:
    assert parse_dsn(raw, [verp(FAILED_ID)]) == []


def test_a_truncated_dsn_gives_no_report_and_no_error() -> None:
    for end in range(0, len(POSTFIX_FAILED), 97):
        reports = parse_dsn(POSTFIX_FAILED[:end])
        assert all(r.delivery_id == FAILED_ID for r in reports)


def test_an_auto_reply_is_told_apart_from_a_report_naming_no_delivery() -> None:
    assert read_bounce(AUTO_REPLY, [verp(FAILED_ID)]).is_report is False
    anonymous = POSTFIX_FULL_RETURN.replace(b"X-BIN-Delivery:", b"X-Other:").replace(
        b"Message-ID: <0f8fad5bd9cb469fa16570867728950e@", b"Message-ID: <elsewhere@"
    )
    bounce = read_bounce(anonymous, ["postmaster@bin.example.org"])
    assert (bounce.is_report, bounce.reports, bounce.unmatched) == (True, [], 1)


# ── samples ─────────────────────────────────────────────────────────────────────────────

POSTFIX_FAILED = b"""\
Received: by relay.bin.test (Postfix)
\tid E0E3820CAC2; Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
Date: Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@relay.bin.test>
Subject: Undelivered Mail Returned to Sender
To: bounces+6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bounces.bin.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="DA7DB20CA84.1796114169/relay.bin.test"
Message-Id: <20261201083609.E0E3820CAC2@relay.bin.test>

This is a MIME-encapsulated message.

--DA7DB20CA84.1796114169/relay.bin.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.bin.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<unknown.member@example.net>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1
    <unknown.member@example.net>: Recipient address rejected: User unknown (in
    reply to RCPT TO command)

--DA7DB20CA84.1796114169/relay.bin.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.bin.test
Original-Envelope-Id: 6f1c3e0a2b7d4c559a0e3d2f8b1c4e77
X-Postfix-Queue-ID: DA7DB20CA84
X-Postfix-Sender: rfc822; bounces+6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bounces.bin.example.org
Arrival-Date: Tue,  1 Dec 2026 08:36:09 +0000 (UTC)

Final-Recipient: rfc822; unknown.member@example.net
Original-Recipient: rfc822;unknown.member@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 550 5.1.1 <unknown.member@example.net>: Recipient
    address rejected: User unknown

--DA7DB20CA84.1796114169/relay.bin.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <bounces+6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bounces.bin.example.org>
Received: from connector.bin.test (unknown [127.0.0.1])
\tby relay.bin.test (Postfix) with ESMTP id DA7DB20CA84
\tfor <unknown.member@example.net>; Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
Subject: BIN-melding: inbraak
From: BIN Sint-Anna <alerts@bin.example.org>
To: unknown.member@example.net
Date: Tue, 01 Dec 2026 08:36:09 +0000
Message-ID: <6f1c3e0a2b7d4c559a0e3d2f8b1c4e77@bin.example.org>
X-BIN-Delivery: 6f1c3e0a-2b7d-4c55-9a0e-3d2f8b1c4e77
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
List-Unsubscribe: <https://bin.example.org/u/abc>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary="===============4123884846626980286=="

--DA7DB20CA84.1796114169/relay.bin.test--
"""

POSTFIX_DELAYED = b"""\
Received: by relay.bin.test (Postfix)
\tid E2BF020C905; Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
Date: Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@relay.bin.test>
Subject: Delayed Mail (still being retried)
To: bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="DB87D20CA92.1796114169/relay.bin.test"
Content-Transfer-Encoding: 8bit
Message-Id: <20261201083609.E2BF020C905@relay.bin.test>

This is a MIME-encapsulated message.

--DB87D20CA92.1796114169/relay.bin.test
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host relay.bin.test.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 0 hour(s).
It will be retried until it is 0 day(s) old.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<tempfail.member@example.net>: host 127.0.0.1[127.0.0.1] said: 451 4.3.0
    <tempfail.member@example.net>: Temporary lookup failure (in reply to RCPT
    TO command)

--DB87D20CA92.1796114169/relay.bin.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.bin.test
Original-Envelope-Id: b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d
X-Postfix-Queue-ID: DB87D20CA92
X-Postfix-Sender: rfc822; bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org
Arrival-Date: Tue,  1 Dec 2026 08:36:09 +0000 (UTC)

Final-Recipient: rfc822; tempfail.member@example.net
Original-Recipient: rfc822;tempfail.member@example.net
Action: delayed
Status: 4.3.0
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 451 4.3.0 <tempfail.member@example.net>: Temporary
    lookup failure
Will-Retry-Until: Tue,  1 Dec 2026 08:36:19 +0000 (UTC)

--DB87D20CA92.1796114169/relay.bin.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org>
Received: from connector.bin.test (unknown [127.0.0.1])
\tby relay.bin.test (Postfix) with ESMTP id DB87D20CA92
\tfor <tempfail.member@example.net>; Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
Subject: Alerte BIN
From: BIN Sint-Anna <alerts@bin.example.org>
To: tempfail.member@example.net
Date: Tue, 01 Dec 2026 08:36:09 +0000
Message-ID: <b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bin.example.org>
X-BIN-Delivery: b3a9d2e4-5c6f-4e1a-8b7d-2c9e0f1a3b5d
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

--DB87D20CA92.1796114169/relay.bin.test--
"""

POSTFIX_EXPIRED = b"""\
Received: by relay.bin.test (Postfix)
\tid EE82D20CB70; Tue,  1 Dec 2026 08:36:19 +0000 (UTC)
Date: Tue,  1 Dec 2026 08:36:19 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@relay.bin.test>
Subject: Undelivered Mail Returned to Sender
To: bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="DB87D20CA92.1796114179/relay.bin.test"
Content-Transfer-Encoding: 8bit
Message-Id: <20261201083619.EE82D20CB70@relay.bin.test>

This is a MIME-encapsulated message.

--DB87D20CA92.1796114179/relay.bin.test
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host relay.bin.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<tempfail.member@example.net>: host 127.0.0.1[127.0.0.1] said: 451 4.3.0
    <tempfail.member@example.net>: Temporary lookup failure (in reply to RCPT
    TO command)

--DB87D20CA92.1796114179/relay.bin.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.bin.test
Original-Envelope-Id: b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d
X-Postfix-Queue-ID: DB87D20CA92
X-Postfix-Sender: rfc822; bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org
Arrival-Date: Tue,  1 Dec 2026 08:36:09 +0000 (UTC)

Final-Recipient: rfc822; tempfail.member@example.net
Original-Recipient: rfc822;tempfail.member@example.net
Action: failed
Status: 4.3.0
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 451 4.3.0 <tempfail.member@example.net>: Temporary
    lookup failure

--DB87D20CA92.1796114179/relay.bin.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <bounces+b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bounces.bin.example.org>
Received: from connector.bin.test (unknown [127.0.0.1])
\tby relay.bin.test (Postfix) with ESMTP id DB87D20CA92
\tfor <tempfail.member@example.net>; Tue,  1 Dec 2026 08:36:09 +0000 (UTC)
Subject: Alerte BIN
From: BIN Sint-Anna <alerts@bin.example.org>
To: tempfail.member@example.net
Date: Tue, 01 Dec 2026 08:36:09 +0000
Message-ID: <b3a9d2e45c6f4e1a8b7d2c9e0f1a3b5d@bin.example.org>
X-BIN-Delivery: b3a9d2e4-5c6f-4e1a-8b7d-2c9e0f1a3b5d
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

--DB87D20CA92.1796114179/relay.bin.test--
"""

POSTFIX_FULL_RETURN = b"""\
Received: by relay.bin.test (Postfix)
\tid 778EA20CA83; Tue,  1 Dec 2026 08:29:29 +0000 (UTC)
Date: Tue,  1 Dec 2026 08:29:29 +0000 (UTC)
From: Mail Delivery System <MAILER-DAEMON@relay.bin.test>
Subject: Undelivered Mail Returned to Sender
To: bounces+0f8fad5bd9cb469fa16570867728950e@bounces.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="7188820CA7F.1796113769/relay.bin.test"
Content-Transfer-Encoding: 8bit
Message-Id: <20261201082929.778EA20CA83@relay.bin.test>

This is a MIME-encapsulated message.

--7188820CA7F.1796113769/relay.bin.test
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host relay.bin.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<unknown.user@example.net>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 No such
    user here (in reply to RCPT TO command)

--7188820CA7F.1796113769/relay.bin.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.bin.test
X-Postfix-Queue-ID: 7188820CA7F
X-Postfix-Sender: rfc822; bounces+0f8fad5bd9cb469fa16570867728950e@bounces.example.org
Arrival-Date: Tue,  1 Dec 2026 08:29:29 +0000 (UTC)

Final-Recipient: rfc822; unknown.user@example.net
Original-Recipient: rfc822;unknown.user@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; 127.0.0.1
Diagnostic-Code: smtp; 550 5.1.1 No such user here

--7188820CA7F.1796113769/relay.bin.test
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <bounces+0f8fad5bd9cb469fa16570867728950e@bounces.example.org>
Received: from localhost (unknown [127.0.0.1])
\tby relay.bin.test (Postfix) with ESMTP id 7188820CA7F
\tfor <unknown.user@example.net>; Tue,  1 Dec 2026 08:29:29 +0000 (UTC)
From: BIN <alerts@example.org>
To: unknown.user@example.net
Subject: Test
Message-ID: <0f8fad5bd9cb469fa16570867728950e@bin.example.org>
X-BIN-Delivery: 0f8fad5b-d9cb-469f-a165-70867728950e
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 7bit
MIME-Version: 1.0
Date: Tue,  1 Dec 2026 08:29:29 +0000 (UTC)

hello

--7188820CA7F.1796113769/relay.bin.test--
"""
