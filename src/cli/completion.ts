import type { Command } from "commander";
import { UsageError } from "./errors.js";

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
}

/**
 * A completion script for bash, or for zsh through its bashcompinit layer,
 * generated from the command tree itself (so it never falls behind): it
 * completes subcommands and each command's flags, skipping flag values.
 */
export function completionScript(program: Command, shell: string): string {
  if (shell !== "bash" && shell !== "zsh") throw new UsageError(`completion: "${shell}" is not bash or zsh`);
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, "_")}_complete`;
  const nodes: Node[] = [];
  const valued = new Set<string>();
  const globals = program.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  const walk = (cmd: Command, path: string) => {
    for (const o of [...cmd.options, ...(cmd === program ? [] : program.options)]) {
      if (o.required || o.optional) for (const f of [o.long, o.short]) if (f) valued.add(f);
    }
    const options = cmd.options.flatMap((o) => [o.long].filter((f): f is string => !!f));
    nodes.push({ path, subcommands: cmd.commands.map((c) => c.name()), options: [...options, "--help"] });
    for (const c of cmd.commands) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(program, "");
  const cases = (pick: (n: Node) => string[]) => nodes.map((n) => `    ${JSON.stringify(n.path)}) echo ${JSON.stringify(pick(n).join(" "))} ;;`).join("\n");
  const bash = `# ${name} completion for ${shell}: source <(${name} completion ${shell})
${fn}_subcommands() {
  case "$1" in
${cases((n) => n.subcommands)}
  esac
}
${fn}_options() {
  case "$1" in
${cases((n) => n.options)}
  esac
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" skip=0 w i
  local valued=" ${[...valued].sort().join(" ")} "
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      -*) [[ "$valued" == *" $w "* ]] && skip=1 ;;
      *) [[ " $(${fn}_subcommands "$path") " == *" $w "* ]] && path="\${path:+$path }$w" ;;
    esac
  done
  if ((skip)); then COMPREPLY=($(compgen -f -- "$cur")); return; fi
  COMPREPLY=($(compgen -W "$(${fn}_subcommands "$path") $(${fn}_options "$path") ${globals.join(" ")}" -- "$cur"))
}
complete -F ${fn} ${name}
`;
  return shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${bash}` : bash;
}
