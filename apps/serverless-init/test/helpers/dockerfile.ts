/** The instructions of a Dockerfile's last stage that the image tree test replays. */
export interface Stage {
  from: string;
  copies: { from?: string; src: string; dest: string }[];
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

/** A small reader for the Dockerfiles in this package: FROM, COPY [--from=], ENV k=v, exec-form ENTRYPOINT/CMD. */
export function lastStage(text: string): Stage {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let stage: Stage | undefined;
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instruction?.toUpperCase()) {
      case 'FROM':
        stage = { from: rest[0]!, copies: [], env: {}, entrypoint: [], cmd: [] };
        break;
      case 'COPY': {
        const from = rest[0]?.startsWith('--from=') ? rest.shift()!.slice('--from='.length) : undefined;
        const dest = rest.pop()!;
        for (const src of rest) stage!.copies.push({ ...(from ? { from } : {}), src, dest });
        break;
      }
      case 'ENV':
        for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          stage!.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        break;
      case 'ENTRYPOINT':
        stage!.entrypoint = JSON.parse(args);
        break;
      case 'CMD':
        stage!.cmd = JSON.parse(args);
        break;
    }
  }
  if (!stage) throw new Error('no FROM');
  return stage;
}
