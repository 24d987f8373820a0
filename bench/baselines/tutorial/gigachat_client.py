# ruff: noqa
# Verbatim copy of the tutorial's file (../shared/seed/tutorial-1c-gigachat.md); only this header was added.
"""
Клиент для работы с GigaChat API
"""
import os
import requests
from dotenv import load_dotenv

load_dotenv()


def get_token() -> str:
    """Читает токен из файла (обновляется через cron)"""
    token_file = os.path.join(os.path.dirname(__file__), '.env.tokens')

    if not os.path.exists(token_file):
        raise RuntimeError("Токен не найден. Запустите scripts/update_token.sh")

    with open(token_file) as f:
        for line in f:
            if line.startswith('GIGACHAT_ACCESS_TOKEN='):
                return line.split('=', 1)[1].strip()

    raise RuntimeError("Токен не найден в файле")


def chat_completion(messages: list, model: str = "GigaChat") -> str:
    """
    Отправляет запрос к GigaChat API

    Args:
        messages: История сообщений [{"role": "user", "content": "..."}]
        model: Модель (GigaChat, GigaChat-Pro, GigaChat-Max)

    Returns:
        Ответ от нейросети
    """
    token = get_token()
    api_url = os.getenv('GIGACHAT_API_URL', 'https://gigachat.devices.sberbank.ru/api/v1')

    response = requests.post(
        f"{api_url}/chat/completions",
        headers={
            'Content-Type': 'application/json',
            'Authorization': f'Bearer {token}'
        },
        json={
            "model": model,
            "messages": messages,
            "temperature": 0.7,
            "max_tokens": 2048
        },
        verify=False,  # GigaChat использует самоподписанный сертификат
        timeout=120
    )

    response.raise_for_status()
    data = response.json()

    return data['choices'][0]['message']['content']
