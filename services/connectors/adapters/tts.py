"""The call's audio: espeak-ng's speech in the member's language, as an 8 kHz 16-bit mono
WAV (what baresip's ``aufile`` source requires for a G.711 call: it refuses other rates).

One file per (text, language), made once and kept in the cache folder: a fan-out to
thousands of members speaks the same words, and espeak-ng takes about a second a message.
The file is the message, a pause, the message again, a pause, the prompt to press 1, then
``listen_seconds`` of silence in which the member may press it: baresip ends the call when
its audio file runs out, which is how an unconfirmed call ends by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import warnings
import wave
from pathlib import Path

from services.connectors.domain.voice_outcomes import spoken_parts

# audioop is in the standard library up to Python 3.12 (the project runs 3.11); its ratecv
# is the C resampler we need for 22,050 -> 8,000 Hz. On 3.13 the PyPI ``audioop-lts`` is
# the same module.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ESPEAK = "/usr/bin/espeak-ng"
RATE = 8000
VOICES = {"nl": "nl", "fr": "fr", "de": "de"}
PAUSE_SECONDS = 1.0


class SpeechFailed(Exception):
    pass


async def speak(text: str, language: str, words_per_minute: int = 150) -> bytes:
    """espeak-ng's speech of ``text`` as 8 kHz 16-bit mono samples."""
    process = await asyncio.create_subprocess_exec(
        ESPEAK, "-v", VOICES.get(language, "nl"), "-s", str(words_per_minute), "--stdout",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    # The text on stdin, not in argv: argv is visible to every user of the machine.
    out, err = await process.communicate(text.encode())
    if process.returncode != 0 or not out:
        raise SpeechFailed(f"espeak-ng failed ({process.returncode}): {err[:200]!r}")
    with wave.open(io.BytesIO(out), "rb") as speech:
        if speech.getsampwidth() != 2 or speech.getnchannels() != 1:
            raise SpeechFailed("espeak-ng gave other than 16-bit mono")
        rate = speech.getframerate()
        frames = speech.readframes(speech.getnframes())
    if rate != RATE:
        frames, _ = audioop.ratecv(frames, 2, 1, rate, RATE, None)
    return frames


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(RATE * seconds)


def write_wav(path: Path, frames: bytes) -> None:
    partial = path.with_suffix(f".{os.getpid()}.part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    partial.replace(path)  # whole or not at all, for a caller reading it now


class MessageAudio:
    """The call audio files, made on first use and cached by their words."""

    def __init__(self, folder: Path, listen_seconds: float, words_per_minute: int = 150) -> None:
        self.folder = folder
        self.listen_seconds = listen_seconds
        self.words_per_minute = words_per_minute
        self._making: dict[str, asyncio.Task[Path]] = {}

    async def file_for(self, text: str, language: str) -> Path:
        key = hashlib.sha256(f"{language}\0{self.words_per_minute}\0{text}".encode()).hexdigest()
        path = self.folder / f"{key[:32]}.wav"
        if path.exists():
            return path
        task = self._making.get(key)
        if task is None:
            task = asyncio.create_task(self._make(path, text, language))
            self._making[key] = task
            task.add_done_callback(lambda _: self._making.pop(key, None))
        return await asyncio.shield(task)

    async def _make(self, path: Path, text: str, language: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        message, again, prompt = [
            await speak(part, language, self.words_per_minute)
            for part in spoken_parts(text, language)
        ]
        pause = silence(PAUSE_SECONDS)
        write_wav(path, message + pause + again + pause + prompt + silence(self.listen_seconds))
        return path
