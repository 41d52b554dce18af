"""District benches (issue 16): the engine comparison (`python -m bench.district.engines`)
and, on the district's own worker, the street-scale bench. Real processes on loopback:
Debian's nats-server and rabbitmq-server, PostgreSQL in a temporary folder, simulated
compound bridges (paho) and competing workers as child processes."""
