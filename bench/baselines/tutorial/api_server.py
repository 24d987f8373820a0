# ruff: noqa
# Verbatim copy of the tutorial's file (../shared/seed/tutorial-1c-gigachat.md); only this header was added.
"""
FastAPI сервер для интеграции 1С с GigaChat
"""
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
import gigachat_client

app = FastAPI(
    title="GigaChat API для 1С",
    description="REST API для интеграции 1С с GigaChat",
    version="1.0.0"
)


class AnalyzeRequest(BaseModel):
    text: str
    system_prompt: str = "Ты - полезный ассистент. Отвечай кратко и по делу."
    return_format: str = "text"  # text или html


class AnalyzeResponse(BaseModel):
    success: bool
    result: str
    error: str | None = None


@app.get("/health")
def health():
    """Проверка состояния сервера"""
    try:
        # Проверяем что токен доступен
        gigachat_client.get_token()
        return {"status": "ok", "gigachat": True}
    except Exception as e:
        return {"status": "degraded", "gigachat": False, "error": str(e)}


@app.post("/analyze/text", response_model=AnalyzeResponse)
def analyze_text(req: AnalyzeRequest):
    """Анализ текста с помощью GigaChat"""

    try:
        messages = [
            {"role": "system", "content": req.system_prompt},
            {"role": "user", "content": req.text}
        ]

        result = gigachat_client.chat_completion(messages)

        # Форматируем в HTML если нужно
        if req.return_format == "html":
            result = f"""
            <html>
            <head><meta charset="utf-8"></head>
            <body style="font-family: Arial; padding: 20px; line-height: 1.6;">
            <div style="white-space: pre-wrap;">{result}</div>
            </body>
            </html>
            """

        return AnalyzeResponse(success=True, result=result)

    except Exception as e:
        return AnalyzeResponse(success=False, result="", error=str(e))


if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="0.0.0.0", port=8000)
