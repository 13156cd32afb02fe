"""WebSocket through Outrigger against the same upstream directly: echo round trips and a one-way flood.

usage: python3 bench/websocket.py NAME=URL... (env ROUND_TRIPS, FLOOD_MIB)
Every URL reaches the same echo/flood server (bench/websocket.sh starts one and the proxies). Each target is
measured three times, interleaved; the median is printed with the ratio to direct.
"""
import asyncio, os, sys, time
import websockets


async def round_trips(url, count):
    async with websockets.connect(url + "echo", compression=None) as ws:
        message = os.urandom(64)
        for _ in range(100):  # warm up
            await ws.send(message)
            await ws.recv()
        started = time.perf_counter()
        for _ in range(count):
            await ws.send(message)
            await ws.recv()
        return (time.perf_counter() - started) / count * 1e6


async def flood(url, mib):
    async with websockets.connect(url + f"flood/{mib}", compression=None, max_size=None) as ws:
        started = time.perf_counter()
        total = 0
        while True:
            message = await ws.recv()
            if message == "done":
                break
            total += len(message)
        return total / (1 << 20) / (time.perf_counter() - started)


async def main():
    targets = [arg.split("=", 1) for arg in sys.argv[1:]]
    count = int(os.environ.get("ROUND_TRIPS", "5000"))
    mib = int(os.environ.get("FLOOD_MIB", "256"))
    results = {name: ([], []) for name, _ in targets}
    for _ in range(3):
        for name, url in targets:
            results[name][0].append(await round_trips(url, count))
            results[name][1].append(await flood(url, mib))
    median = lambda values: sorted(values)[len(values) // 2]
    base_rtt, base_rate = median(results[targets[0][0]][0]), median(results[targets[0][0]][1])
    for name, _ in targets:
        rtt, rate = median(results[name][0]), median(results[name][1])
        print(
            f"{name:10s} echo 64 B round trip {rtt:7.1f} us ({rtt / base_rtt:4.2f}x)"
            f"   flood {rate:7.1f} MiB/s ({rate / base_rate:4.2f}x)", flush=True)


asyncio.run(main())
