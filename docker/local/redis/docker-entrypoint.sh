#!/bin/sh
# Entrypoint of phx-xtask-local/redis:7, a local stand-in for the official redis
# image. It follows docker-library/redis's docker-entrypoint.sh (flags or a
# .conf file as the first arg mean redis-server; drop from root to redis; umask
# 0077) and uses setpriv (util-linux) instead of gosu.
set -e

# `docker run IMAGE --save ''` means `redis-server --save ''`.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	# Files left in /data by a root process (or a mounted volume) must stay
	# writable for the redis user.
	find . \! -user redis -exec chown redis '{}' +
	HOME=/var/lib/redis exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
	# The official image patches redis so protected mode defaults to off; with
	# Debian's build, redis would refuse every client from outside the
	# container when no password is set. The flag goes first so that later
	# args can still turn it back on. A config file given as the first
	# argument is taken as it is: it must stay first, and anything added after
	# it would override its own protected-mode line.
	shift
	case "${1:-}" in
		'' | -*) set -- redis-server --protected-mode no "$@" ;;
		*) set -- redis-server "$@" ;;
	esac
fi

# Files redis creates (RDB, AOF) are private to it unless a umask was chosen.
um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
