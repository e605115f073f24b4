"""TwiML, the provider's XML answer to each webhook, built with xml.etree (every text and attribute escaped; the
characters XML 1.0 cannot carry are dropped)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

MEDIA_TYPE = "application/xml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DIAL_EVENTS = "initiated ringing answered completed"


def _clean(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


class VoiceAnswer:
    """One TwiML <Response>. Verbs are added in the order the provider plays them."""

    def __init__(self, voice: str | None = None, language: str | None = None):
        self.root = ET.Element("Response")
        self.voice = voice
        self.language = language

    def _verb(self, name: str, parent: ET.Element | None = None, text: str | None = None,
              **attributes: object) -> ET.Element:
        element = ET.SubElement(self.root if parent is None else parent, name,
                                {k: _clean(v) for k, v in attributes.items() if v is not None})
        if text is not None:
            element.text = _clean(text)
        return element

    def say(self, text: str, parent: ET.Element | None = None) -> None:
        self._verb("Say", parent, text, voice=self.voice, language=self.language)

    def play(self, url: str, parent: ET.Element | None = None) -> None:
        self._verb("Play", parent, url)

    def pause(self, seconds: int, parent: ET.Element | None = None) -> None:
        self._verb("Pause", parent, length=seconds)

    def gather(self, action: str, *, speech: bool, timeout: int, num_digits: int = 1) -> ET.Element:
        return self._verb("Gather", None, action=action, method="POST",
                          input="dtmf speech" if speech else "dtmf", numDigits=num_digits, timeout=timeout,
                          language=self.language if speech else None)

    def redirect(self, url: str) -> None:
        self._verb("Redirect", None, url, method="POST")

    def hangup(self) -> None:
        self._verb("Hangup")

    def dial(self, device: str, *, action: str, timeout: int, status_callback: str, record: bool,
             recording_callback: str | None) -> None:
        """Connect the caller to an agent's device: sip:..., client:name or a phone number."""
        dial = self._verb("Dial", None, action=action, method="POST", timeout=timeout,
                          record="record-from-answer-dual" if record else None,
                          recordingStatusCallback=recording_callback if record else None,
                          recordingStatusCallbackMethod="POST" if record else None)
        target = {"statusCallback": status_callback, "statusCallbackEvent": DIAL_EVENTS,
                  "statusCallbackMethod": "POST"}
        if device.startswith("sip:"):
            self._verb("Sip", dial, device, **target)
        elif device.startswith("client:"):
            self._verb("Client", dial, device.removeprefix("client:"), **target)
        else:
            self._verb("Number", dial, device, **target)

    def render(self) -> bytes:
        return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(self.root, encoding="unicode").encode()
