#!/bin/bash

# Скрипт обновления токена GigaChat
# Запускать через cron каждые 20 минут

set -e

SCRIPT_DIR=$(dirname "$(readlink -f "$0")")
PROJECT_DIR=$(dirname "$SCRIPT_DIR")
cd "$PROJECT_DIR"

# Загружаем переменные
source .env

# Получаем токен
RESPONSE=$(curl -s -k -X POST "$GIGACHAT_AUTH_URL" \
    -H "Content-Type: application/x-www-form-urlencoded" \
    -H "Accept: application/json" \
    -H "RqUID: $(uuidgen)" \
    -H "Authorization: Basic $(echo -n "$GIGACHAT_CLIENT_ID:$GIGACHAT_CLIENT_SECRET" | base64 -w 0)" \
    -d "scope=$GIGACHAT_SCOPE")

# Извлекаем токен
TOKEN=$(echo "$RESPONSE" | jq -r '.access_token')

if [ "$TOKEN" != "null" ] && [ -n "$TOKEN" ]; then
    echo "GIGACHAT_ACCESS_TOKEN=$TOKEN" > .env.tokens
    echo "$(date): Токен обновлён"
else
    echo "$(date): Ошибка получения токена"
    exit 1
fi
