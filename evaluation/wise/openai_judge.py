"""A WISE judge behind an OpenAI-compatible `/chat/completions` HTTP endpoint (OpenAI, vLLM).

The API key is read from an environment variable at request time; it is never stored on the
object, logged, put in results, or shown in `repr`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from evaluation.errors import BenchmarkInputError
from evaluation.wise.judges import SYSTEM, build_instruction
from evaluation.wise.prompts import WisePrompt

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


def png_data_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)).convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class OpenAIChatJudge:
    """POST `{base_url}/chat/completions` with the instruction and the image as a data URL.

    Greedy (`temperature=0`). Transient HTTP errors (429, 5xx, timeouts) are retried with
    exponential backoff; other errors raise at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_tokens: int = 512,
        timeout_s: float = 120.0,
        retries: int = 3,
        backoff_s: float = 2.0,
        instruction: str | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.instruction = instruction
        self.name = f"openai-chat:{model}"

    def __repr__(self) -> str:
        return (
            f"OpenAIChatJudge(url={self.url!r}, model={self.model!r}, "
            f"key_env={self.api_key_env!r})"
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def request_body(self, image: np.ndarray, prompt: WisePrompt, protocol: str) -> dict:
        text = build_instruction(prompt, protocol, self.instruction)
        return {
            "model": self.model,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": png_data_url(image)}},
                ]},
            ],
        }

    def judge(self, image: np.ndarray, prompt: WisePrompt, protocol: str) -> str:
        data = json.dumps(self.request_body(image, prompt, protocol)).encode("utf-8")
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=self._headers())
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                return _content(payload)
            except urllib.error.HTTPError as err:
                if err.code not in _RETRY_STATUS or attempt == self.retries:
                    raise BenchmarkInputError(
                        f"judge endpoint {self.url} answered HTTP {err.code}; check base URL, "
                        f"model name and ${self.api_key_env}"
                    ) from None
            except (urllib.error.URLError, TimeoutError) as err:
                if attempt == self.retries:
                    reason = getattr(err, "reason", err)
                    raise BenchmarkInputError(
                        f"judge endpoint {self.url} unreachable ({reason}); start the server "
                        "or fix the base URL"
                    ) from None
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")


def _content(payload: dict) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BenchmarkInputError(
            "judge reply has no choices[0].message.content; is this an OpenAI-compatible API?"
        ) from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")
