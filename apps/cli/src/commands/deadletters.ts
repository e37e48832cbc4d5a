/**
 * `access deadletters list | show ID | redrive ID`: the messages consumers could not parse or validate, as recorded
 * in the dead-letter topic (`deadletter.recorded`: where each came from, why, its key, value and headers), and
 * putting one back on its original topic once the cause is fixed. Consumers are idempotent by event id, so a
 * message redriven twice changes nothing the second time.
 */
import { Command, InvalidArgumentError } from 'commander';
import { TOPICS } from '@access/contracts';
import { commonEnvSchema, kafkaBrokers, loadEnvOrExit } from '@access/platform-config';
import { EventProducer, createKafka, type Kafka } from '@access/platform-kafka';
import { details, readRecord, redrivePlan, summaryLine, type DeadLetterRecord } from '../deadletters/records';
import { readWholeTopic } from '../deadletters/read-topic';

async function withKafka<T>(fn: (kafka: Kafka) => Promise<T>): Promise<T> {
  const env = loadEnvOrExit(commonEnvSchema);
  return fn(createKafka({ brokers: kafkaBrokers(env), clientId: 'access-cli' }));
}

/** Every readable dead letter of the topic, oldest first; unreadable messages are reported on stderr. */
async function readAll(kafka: Kafka, topic: string): Promise<DeadLetterRecord[]> {
  const records: DeadLetterRecord[] = [];
  const { complete } = await readWholeTopic(kafka, topic, (message) => {
    const read = readRecord(message);
    if (read.ok) records.push(read.record);
    else process.stderr.write(`skipped ${topic}/${read.at.partition}@${read.at.offset}: ${read.reason}\n`);
  });
  if (!complete) process.stderr.write(`warning: stopped before the end of ${topic} (see readTopicLimits); the list is partial\n`);
  return records;
}

async function find(kafka: Kafka, topic: string, id: string): Promise<DeadLetterRecord> {
  const found = (await readAll(kafka, topic)).find((r) => r.id === id);
  if (found === undefined) throw new Error(`no dead letter ${id} in ${topic}`);
  return found;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

export function registerDeadletterCommands(program: Command): void {
  const deadletters = program.command('deadletters').description('Dead letters: list, show and redrive messages consumers refused');
  const topicOption = ['--topic <name>', 'the dead-letter topic', TOPICS.deadletter] as const;

  deadletters
    .command('list')
    .description('One line per dead letter, oldest first: id, time, consumer, source topic/partition@offset, error')
    .option(...topicOption)
    .option('--source-topic <name>', 'only those that came from this topic')
    .option('--last <n>', 'only the newest n', positive)
    .option('--json', 'one JSON object per dead letter')
    .action(async (options: { topic: string; sourceTopic?: string; last?: number; json?: boolean }) => {
      let records = await withKafka((kafka) => readAll(kafka, options.topic));
      if (options.sourceTopic !== undefined) records = records.filter((r) => r.data.topic === options.sourceTopic);
      if (options.last !== undefined) records = records.slice(-options.last);
      for (const r of records) process.stdout.write(`${options.json ? JSON.stringify(details(r)) : summaryLine(r)}\n`);
      process.stderr.write(`${records.length} dead letter(s) in ${options.topic}\n`);
    });

  deadletters
    .command('show <id>')
    .description('Everything recorded about one dead letter (the value as text when it is UTF-8, else base64)')
    .option(...topicOption)
    .action(async (id: string, options: { topic: string }) => {
      const record = await withKafka((kafka) => find(kafka, options.topic, id));
      process.stdout.write(`${JSON.stringify(details(record), null, 2)}\n`);
    });

  deadletters
    .command('redrive <id>')
    .description('Republish the original key, value and headers of a dead letter to its original topic')
    .option(...topicOption)
    .action(async (id: string, options: { topic: string }) => {
      await withKafka(async (kafka) => {
        const record = await find(kafka, options.topic, id);
        const plan = redrivePlan(record);
        if (!plan.ok) throw new Error(`cannot redrive ${id}: ${plan.reason}`);
        for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`);
        const producer = new EventProducer(kafka, { lingerMs: 0 });
        await producer.connect();
        try {
          await producer.send(plan.message);
        } finally {
          await producer.disconnect();
        }
        process.stdout.write(`redriven ${id} to ${plan.message.topic} (key ${plan.message.key ?? 'null'}, ${Object.keys(plan.message.headers ?? {}).length} header(s))\n`);
      });
    });
}
