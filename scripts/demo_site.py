#!/usr/bin/python3
"""A small local site for crawld's dev target: seasons, teams and matches.

    scripts/demo_site.py [--port 8081] [--root var/demo-site] [--seasons 2020-2025]

Generates static HTML under --root (once) and serves it on 127.0.0.1.
Each season has an index linking to teams, each team links to its matches
and back, so shallow and deep crawls see visibly different page counts.
"""
import argparse
import functools
import http.server
import os
import random


def page(title, body_links, text=""):
    links = "\n".join(f'<li><a href="{href}">{label}</a></li>' for href, label in body_links)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{text}</p><ul>{links}</ul></body></html>\n")


def generate(root, first, last):
    rng = random.Random(42)
    teams = [f"team-{i:02d}" for i in range(1, 13)]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "robots.txt"), "w") as f:
        f.write("User-agent: *\nDisallow: /private/\n")
    seasons = list(range(first, last + 1))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write(page("Demo league", [(f"/season/{s}/", f"Season {s}") for s in seasons]))
    for season in seasons:
        base = os.path.join(root, "season", str(season))
        os.makedirs(base, exist_ok=True)
        with open(os.path.join(base, "index.html"), "w") as f:
            f.write(page(f"Season {season}", [(f"{t}/", t) for t in teams] + [("/private/admin.html", "admin")]))
        for team in teams:
            tdir = os.path.join(base, team)
            os.makedirs(tdir, exist_ok=True)
            opponents = rng.sample([t for t in teams if t != team], 4)
            matches = [(f"match-{o}.html", f"vs {o}") for o in opponents]
            with open(os.path.join(tdir, "index.html"), "w") as f:
                f.write(page(f"{team} in {season}", matches + [("../", "season")], "Squad and results."))
            for opponent in opponents:
                with open(os.path.join(tdir, f"match-{opponent}.html"), "w") as f:
                    score = f"{rng.randint(0, 4)}-{rng.randint(0, 4)}"
                    f.write(page(f"{team} {score} {opponent}", [("./", team), (f"../{opponent}/", opponent)],
                                 "Match report. " * 40))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--listen", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)")
    parser.add_argument("--root", default="var/demo-site")
    parser.add_argument("--seasons", default="2020-2025")
    args = parser.parse_args()
    first, last = (int(x) for x in args.seasons.split("-"))
    generate(args.root, first, last)
    handler = functools.partial(QuietHandler, directory=args.root)
    server = http.server.ThreadingHTTPServer((args.listen, args.port), handler)
    print(f"demo site on http://{args.listen}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
