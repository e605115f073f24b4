from tierdesk.cli import app

app()
