from services.digest.main import run

run()
