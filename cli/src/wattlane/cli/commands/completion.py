"""wattlane completion bash | zsh: a shell completion script generated from the command tree
itself (every command, flag and choice; nothing to install).

    source <(wattlane completion bash)       # bash, e.g. in ~/.bashrc
    source <(wattlane completion zsh)        # zsh, e.g. in ~/.zshrc"""

from __future__ import annotations

import argparse
import shlex

# The function reads the words typed so far: each word naming a subcommand of the path so far
# extends the path; then it offers the path's subcommands and flags, or the choices of the flag
# just typed.
_BASH = """\
# wattlane completion (bash); zsh loads it through bashcompinit.
_wattlane_words() {
  case "$1" in
%(words)s
  esac
}
_wattlane_choices() {
  case "$1" in
%(choices)s
  esac
}
_wattlane() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" path="" i w words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    words=" $(_wattlane_words "$path") "
    if [[ "$w" != -* && "$words" == *" $w "* ]]; then path="${path:+$path }$w"; fi
  done
  words="$(_wattlane_choices "$path $prev")"
  [[ -z "$words" ]] && words="$(_wattlane_words "$path")"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _wattlane wattlane
"""
_ZSH_HEAD = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"


def _walk(
    parser: argparse.ArgumentParser, path: str, words: dict[str, list[str]], choices: dict[str, list[str]]
) -> None:
    here: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                here.append(name)
                _walk(sub, f"{path} {name}".strip(), words, choices)
        elif action.option_strings:
            here.extend(o for o in action.option_strings if o.startswith("--"))
            if action.choices:
                for option in action.option_strings:
                    choices[f"{path} {option}"] = [str(c) for c in action.choices]
    words[path] = here


def script(root: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `root` for bash or zsh."""
    words: dict[str, list[str]] = {}
    choices: dict[str, list[str]] = {}
    _walk(root, "", words, choices)

    def cases(table: dict[str, list[str]]) -> str:
        return "\n".join(
            f"    {shlex.quote(key)}) echo {shlex.quote(' '.join(values))} ;;"
            for key, values in sorted(table.items())
        )

    body = _BASH % {"words": cases(words), "choices": cases(choices)}
    return _ZSH_HEAD + body if shell == "zsh" else body


def run(args: argparse.Namespace) -> int:
    from wattlane.cli.main import parser  # the whole tree (main imports this module)

    print(script(parser(), args.shell), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script: `source <(wattlane completion bash)` in ~/.bashrc, "
        "or `source <(wattlane completion zsh)` in ~/.zshrc.",
    )
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(run=run)
