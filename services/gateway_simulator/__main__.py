from services.gateway_simulator.main import run

run()
