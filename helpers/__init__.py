"""llm-workbook shared helpers."""
