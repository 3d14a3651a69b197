"""The licence gate's text matching is identify's, with the SPDX texts normalised once instead of on every call."""

from __future__ import annotations

import identify.identify
from identify.vendor.licenses import LICENSES

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.licence import licence_of_text


def test_licence_texts_are_identified_exactly_as_identify_does(tmp_path):
    texts = dict(LICENSES)
    apache = texts["Apache-2.0"]
    cases = [
        LICENSE_TEXT,
        apache.replace("Copyright [yyyy] [name of copyright owner]", "Copyright 2025 Example Corp"),
        apache.replace("License", "Licence", 3),  # a few edits: still within 5%
        texts["GPL-3.0"], texts["BSD-3-Clause"], texts["MIT"].replace("\n", "\r\n"),
        texts["MIT"][: len(texts["MIT"]) // 2],  # half a licence: nothing
        "All rights reserved.\n", "",
    ]
    for index, text in enumerate(cases):
        path = tmp_path / f"LICENSE{index}"
        path.write_text(text, encoding="utf-8", newline="")
        assert licence_of_text(path.read_text(encoding="utf-8")) == identify.identify.license_id(str(path)), index
    assert licence_of_text(cases[0]) == "MIT" and licence_of_text(cases[2]) == "Apache-2.0"
    assert licence_of_text(cases[6]) is None
