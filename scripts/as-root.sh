# Sourced by the scripts a newcomer runs first: re-runs the calling script as root, through sudo
# only when we are not root already (containers and cloud images are root without sudo).
# Keeps CI (the tests read it) across the elevation.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env=CI bash "$0" "$@"
  fi
  echo "$(basename "$0"): needs root (network namespaces, TUN, tc): run it as root or install sudo" >&2
  exit 1
fi
