// Examples from the Datadog Agent obfuscator's documented behaviour (its published test tables):
// what a user expects to be scrubbed before spans leave the function.
import { describe, expect, it } from 'vitest';
import {
  defaultObfuscationOptions,
  isCardNumber,
  NON_PARSABLE_SQL,
  Obfuscator,
  obfuscateJson,
  obfuscateMemcached,
  obfuscateRedis,
  obfuscateSql,
  obfuscateUrl,
  quantizeRedis,
  type Span,
} from '../src/index.js';

const span = (over: Partial<Span>): Span => ({
  service: 's',
  name: 'n',
  resource: 'r',
  trace_id: 1,
  span_id: 1,
  parent_id: 0,
  start: 0,
  duration: 1,
  error: 0,
  meta: {},
  metrics: {},
  type: '',
  ...over,
});

describe('SQL quantization', () => {
  const cases: [string, string][] = [
    ['select * from users where id = 42', 'select * from users where id = ?'],
    [
      'SELECT host, status FROM ec2_status WHERE org_id=42',
      'SELECT host, status FROM ec2_status WHERE org_id = ?',
    ],
    [
      '-- get user \n--\n select * \n   from users \n    where\n       id = 214325346',
      'select * from users where id = ?',
    ],
    [
      'SELECT * FROM `host` WHERE `id` IN (42, 43) /*comment with parameters,host:localhost,url:controller#home,id:FF005:00CAA*/',
      'SELECT * FROM host WHERE id IN ( ? )',
    ],
    [
      'SELECT `host`.`address` FROM `host` WHERE org_id=42',
      'SELECT host . address FROM host WHERE org_id = ?',
    ],
    [
      'SELECT "host"."address" FROM "host" WHERE org_id=42',
      'SELECT host . address FROM host WHERE org_id = ?',
    ],
    [
      "UPDATE user_dash_pref SET json_prefs = %(json_prefs)s, modified = '2015-08-27 22:10:32.492912' WHERE user_id = %(user_id)s AND url = %(url)s",
      'UPDATE user_dash_pref SET json_prefs = ? modified = ? WHERE user_id = ? AND url = ?',
    ],
    [
      'SELECT DISTINCT host.id AS host_id FROM host JOIN host_alias ON host_alias.host_id = host.id WHERE host.org_id = %(org_id_1)s AND host.name NOT IN (%(name_1)s) AND host.name IN (%(name_2)s, %(name_3)s, %(name_4)s, %(name_5)s)',
      'SELECT DISTINCT host.id FROM host JOIN host_alias ON host_alias.host_id = host.id WHERE host.org_id = ? AND host.name NOT IN ( ? ) AND host.name IN ( ? )',
    ],
    [
      'SELECT org_id, metric_key   FROM metrics_metadata   WHERE org_id = %(org_id)s AND metric_key = ANY(array[21, 25, 32])',
      'SELECT org_id, metric_key FROM metrics_metadata WHERE org_id = ? AND metric_key = ANY ( array [ ? ] )',
    ],
    [
      'SELECT articles.* FROM articles WHERE articles.id = 1 LIMIT 1, 20;',
      'SELECT articles.* FROM articles WHERE articles.id = ? LIMIT ?',
    ],
    [
      "SELECT articles.* FROM articles WHERE (articles.created_at BETWEEN '2016-10-31 23:00:00.000000' AND '2016-11-01 23:00:00.000000')",
      'SELECT articles.* FROM articles WHERE ( articles.created_at BETWEEN ? AND ? )',
    ],
    [
      'SELECT articles.* FROM articles WHERE (articles.created_at BETWEEN $1 AND $2)',
      'SELECT articles.* FROM articles WHERE ( articles.created_at BETWEEN ? AND ? )',
    ],
    [
      'SELECT articles.* FROM articles WHERE (articles.published != true)',
      'SELECT articles.* FROM articles WHERE ( articles.published != ? )',
    ],
    [
      'SELECT articles.* FROM articles WHERE ( title = :title )',
      'SELECT articles.* FROM articles WHERE ( title = :title )',
    ],
    [
      'SELECT date(created_at) as ordered_date, sum(price) as total_price FROM orders GROUP BY date(created_at) HAVING sum(price) > 100',
      'SELECT date ( created_at ), sum ( price ) FROM orders GROUP BY date ( created_at ) HAVING sum ( price ) > ?',
    ],
    [
      "SELECT * FROM clients WHERE (clients.first_name = 'Andy') LIMIT 1 BEGIN INSERT INTO clients (created_at, first_name, locked, orders_count, updated_at) VALUES ('2011-08-30 05:22:57', 'Andy', 1, NULL, '2011-08-30 05:22:57') COMMIT",
      'SELECT * FROM clients WHERE ( clients.first_name = ? ) LIMIT ? BEGIN INSERT INTO clients ( created_at, first_name, locked, orders_count, updated_at ) VALUES ( ? ) COMMIT',
    ],
    ['SAVEPOINT "s139956586256192_x1"', 'SAVEPOINT ?'],
    [
      "INSERT INTO user (id, username) VALUES ('Fred','Smith'), ('John','Smith'), ('Michael','Smith'), ('Robert','Smith');",
      'INSERT INTO user ( id, username ) VALUES ( ? )',
    ],
    [
      "CREATE KEYSPACE Excelsior WITH replication = {'class': 'SimpleStrategy', 'replication_factor' : 3};",
      'CREATE KEYSPACE Excelsior WITH replication = ?',
    ],
    [
      'SELECT server_table.host AS host_id FROM table#.host_tags as server_table WHERE server_table.host_id = 50',
      'SELECT server_table.host FROM table#.host_tags WHERE server_table.host_id = ?',
    ],
    ['* SELECT * FROM fake_data(1, 2, 3);', '* SELECT * FROM fake_data ( ? )'],
    [
      "CREATE FUNCTION add(integer, integer) RETURNS integer\n AS 'select $1 + $2;'\n LANGUAGE SQL\n IMMUTABLE\n RETURNS NULL ON NULL INPUT;",
      'CREATE FUNCTION add ( integer, integer ) RETURNS integer LANGUAGE SQL IMMUTABLE RETURNS ? ON ? INPUT',
    ],
    [
      "SELECT * FROM public.table ( array [ ROW ( array [ 'magic', 'foo',",
      'SELECT * FROM public.table ( array [ ROW ( array [ ?',
    ],
    [
      'SELECT pg_try_advisory_lock (123) AS t46eef3f025cc27feb31ca5a2d668a09a',
      'SELECT pg_try_advisory_lock ( ? )',
    ],
    [
      'INSERT INTO `qual-aa`.issues (alert0 , alert1) VALUES (NULL, NULL)',
      'INSERT INTO qual-aa . issues ( alert0, alert1 ) VALUES ( ? )',
    ],
    [
      'select * from users where id = 214325346     # This comment continues to the end of line',
      'select * from users where id = ?',
    ],
    ['SELECT /*! STRAIGHT_JOIN */ col1 FROM table1', 'SELECT col1 FROM table1'],
    ["SET @g = 'POLYGON((0 0,10 0,10 10,0 10,0 0),(5 5,7 5,7 7,5 7, 5 5))';", 'SET @g = ?'],
    [
      'SELECT [b].[BlogId], [b].[Name]\nFROM [Blogs] AS [b]\nORDER BY [b].[Name]',
      'SELECT [ b ] . [ BlogId ], [ b ] . [ Name ] FROM [ Blogs ] ORDER BY [ b ] . [ Name ]',
    ],
    ["SELECT * FROM users WHERE firstname=' '", 'SELECT * FROM users WHERE firstname = ?'],
    ['SELECT * FROM users WHERE lastname=" "', 'SELECT * FROM users WHERE lastname = ""'],
    [
      "SELECT id FROM jq_jobs\nWHERE\nschedulable_at <= 1555367948 AND\nqueue_name = 'order_jobs' AND\nstatus = 1 AND\nid % 8 = 3\nORDER BY\nschedulable_at\nLIMIT 1000",
      'SELECT id FROM jq_jobs WHERE schedulable_at <= ? AND queue_name = ? AND status = ? AND id % ? = ? ORDER BY schedulable_at LIMIT ?',
    ],
    [
      'DELETE FROM t1\n\t\t\tWHERE s11 > ANY\n\t\t\t(SELECT COUNT(*) /* no hint */ FROM t2\n\t\t\tWHERE NOT EXISTS\n\t\t\t(SELECT * FROM t3\n\t\t\tWHERE ROW(5*t2.s1,77)=\n\t\t\t(SELECT 50,11*s1 FROM t4 UNION SELECT 50,77 FROM\n\t\t\t(SELECT * FROM t5) AS t5)));',
      'DELETE FROM t1 WHERE s11 > ANY ( SELECT COUNT ( * ) FROM t2 WHERE NOT EXISTS ( SELECT * FROM t3 WHERE ROW ( ? * t2.s1, ? ) = ( SELECT ? * s1 FROM t4 UNION SELECT ? FROM ( SELECT * FROM t5 ) ) ) )',
    ],
  ];
  for (const [input, want] of cases) {
    it(input.slice(0, 70).replace(/\s+/g, ' '), () => expect(obfuscateSql(input)).toBe(want));
  }

  it('keeps aliases when asked', () => {
    expect(obfuscateSql('SELECT username AS person FROM users WHERE id=4', { keepAlias: true })).toBe(
      'SELECT username AS person FROM users WHERE id = ?',
    );
    expect(obfuscateSql('SELECT username AS person FROM users WHERE id=4')).toBe(
      'SELECT username FROM users WHERE id = ?',
    );
  });

  it('on a span: resource quantized, a tracer-set sql.query kept, unparsable SQL named as such', () => {
    const o = new Obfuscator();
    const a = span({
      type: 'sql',
      resource: 'SELECT * FROM users WHERE id = 42',
      meta: { 'sql.query': 'SELECT * FROM users WHERE id = 42' },
    });
    o.obfuscate(a);
    expect(a.resource).toBe('SELECT * FROM users WHERE id = ?');
    const b = span({ type: 'sql', resource: 'SELECT * FROM users WHERE id = 42' });
    o.obfuscate(b);
    expect(b.meta['sql.query']).toBe('SELECT * FROM users WHERE id = ?');
    for (const bad of [
      "SELECT * FROM users WHERE id = '' AND '",
      "SELECT * FROM users WHERE users.id = '1 AND users.name = 'dog'",
    ]) {
      const c = span({ type: 'sql', resource: bad });
      o.obfuscate(c);
      expect(c.resource).toBe(NON_PARSABLE_SQL);
    }
    expect(o.sqlErrors.count).toBe(2);
  });
});

describe('Redis', () => {
  const cases: [string, string][] = [
    ['AUTH my-secret-password', 'AUTH ?'],
    ['AUTH james my-secret-password', 'AUTH ?'],
    ['AUTH', 'AUTH'],
    ['APPEND key value', 'APPEND key ?'],
    [
      'GEORADIUSBYMEMBER key member radius m|km|ft|mi [WITHCOORD]',
      'GEORADIUSBYMEMBER key ? radius m|km|ft|mi [WITHCOORD]',
    ],
    [
      'SET key value [expiration EX seconds|PX milliseconds] [NX|XX]',
      'SET key ? [expiration EX seconds|PX milliseconds] [NX|XX]',
    ],
    [
      'BITFIELD key GET type offset SET type offset value INCRBY type',
      'BITFIELD key GET type offset SET type offset ? INCRBY type',
    ],
    ['BITFIELD key SET type offset', 'BITFIELD key SET type offset'],
    ['CONFIG SET parameter value', 'CONFIG SET parameter ?'],
    ['CONFIG foo bar baz', 'CONFIG foo bar baz'],
    [
      'GEOADD key longitude latitude member longitude latitude member',
      'GEOADD key longitude latitude ? longitude latitude ?',
    ],
    ['GEOADD key longitude latitude', 'GEOADD key longitude latitude'],
    [
      'GEOHASH key member member member\nGEOPOS key member member \n  GEODIST key member member member',
      'GEOHASH key ?\nGEOPOS key ?\nGEODIST key ?',
    ],
    ['HSET key field value \nHSETNX key field value\nBLAH', 'HSET key field ?\nHSETNX key field ?\nBLAH'],
    ['LINSERT key BEFORE pivot value', 'LINSERT key BEFORE pivot ?'],
    ['RESTORE key ttl serialized-value [REPLACE]', 'RESTORE key ttl ? [REPLACE]'],
    ['HMSET key field value \n HMSET key field value\n\n ', 'HMSET key field ?\nHMSET key field ?'],
    ['MSET key value key value', 'MSET key ? key ?'],
    ['ZADD key NX CH INCR score member score member', 'ZADD key NX CH INCR score ? score ?'],
    ['ZADD key XX INCR score', 'ZADD key XX INCR score'],
    ['\nCONFIG command\nSET k v\n\t\t\t', 'CONFIG command\nSET k ?'],
  ];
  for (const [input, want] of cases)
    it(`raw command: ${JSON.stringify(input).slice(0, 60)}`, () => expect(obfuscateRedis(input)).toBe(want));

  it('quantizes the resource to at most three commands', () => {
    expect(quantizeRedis('DEL k1\nDEL k2\nHMSET k1 "a" 1 "b" 2 "c" 3\nHMSET k2 "d" "4"')).toBe(
      'DEL DEL HMSET ...',
    );
    expect(quantizeRedis('GET...')).toBe('...');
    expect(quantizeRedis('GET k...')).toBe('GET');
    expect(quantizeRedis('GET k1\nGET k2\nG...')).toBe('GET GET ...');
    expect(quantizeRedis('GET k1\nDE...\nGET k2')).toBe('GET GET');
    expect(quantizeRedis('GET k...\nDE...\nMS...')).toBe('GET ...');
    expect(quantizeRedis('UNKNOWN 123')).toBe('UNKNOWN');
  });

  it('removes all arguments when asked', () => {
    expect(obfuscateRedis('SET key value', true)).toBe('SET ?');
    expect(obfuscateRedis('PING', true)).toBe('PING');
  });
});

describe('Memcached, Elasticsearch/MongoDB, HTTP, credit cards', () => {
  it('memcached: the command without its data, or nothing', () => {
    expect(obfuscateMemcached('set mykey 0 60 5\r\nvalue', true)).toBe('set mykey 0 60 5');
    expect(obfuscateMemcached('set mykey 0 60 5\r\nvalue', false)).toBe('');
    const s = span({ type: 'memcached', meta: { 'memcached.command': 'set k 0 0 6\r\nsecret' } });
    new Obfuscator().obfuscate(s);
    expect(s.meta['memcached.command']).toBeUndefined();
  });

  it('JSON bodies: every value replaced, keep_values kept', () => {
    expect(obfuscateJson('{"query":{"match":{"title":"secret","views":100}}}')).toBe(
      '{"query":{"match":{"title":"?","views":"?"}}}',
    );
    expect(obfuscateJson('{"query":{"ids":[1,2]},"index":"logs"}', ['index'])).toBe(
      '{"query":{"ids":["?","?"]},"index":"logs"}',
    );
    expect(obfuscateJson('{"index":{"_id":"1"}}\n{"field":"value"}')).toBe(
      '{"index":{"_id":"?"}}\n{"field":"?"}',
    );
    const es = span({ type: 'elasticsearch', meta: { 'elasticsearch.body': '{"password":"hunter2"}' } });
    new Obfuscator().obfuscate(es);
    expect(es.meta['elasticsearch.body']).toBe('{"password":"?"}');
    const mongo = span({ type: 'mongodb', meta: { 'mongodb.query': '{"email":"a@b.c"}' } });
    new Obfuscator().obfuscate(mongo);
    expect(mongo.meta['mongodb.query']).toBe('{"email":"?"}');
  });

  it('HTTP URLs: query string and digit segments as configured', () => {
    expect(obfuscateUrl('http://foo.com/bar?token=abc#frag', true, false)).toBe('http://foo.com/bar?#frag');
    expect(obfuscateUrl('http://foo.com/users/123/books/9a8b?x=1', false, true)).toBe(
      'http://foo.com/users/?/books/??x=1',
    );
    expect(obfuscateUrl('/path/1/a?b=2', true, true)).toBe('/path/?/a?');
    const o = defaultObfuscationOptions();
    o.http.removeQueryString = true;
    const s = span({ type: 'http', meta: { 'http.url': 'https://api.example.com/v1/login?password=x' } });
    new Obfuscator(o).obfuscate(s);
    expect(s.meta['http.url']).toBe('https://api.example.com/v1/login?');
  });

  it('credit card numbers in any tag, with the Luhn check optional', () => {
    for (const n of [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '5500 0000 0000 0004',
      '378282246310005',
      '6011111111111117',
    ]) {
      expect(isCardNumber(n, true), n).toBe(true);
    }
    expect(isCardNumber('4111111111111112', false)).toBe(true);
    expect(isCardNumber('4111111111111112', true)).toBe(false);
    for (const n of ['1234567890123', '12345', '9111111111111111', '4111 1111 1111 111a'])
      expect(isCardNumber(n, false), n).toBe(false);
    const s = span({
      meta: {
        'payment.card': '4111 1111 1111 1111',
        'http.status_code': '4111111111111111',
        _private: '4111111111111111',
        order: '42',
      },
    });
    new Obfuscator().obfuscate(s);
    expect(s.meta).toEqual({
      'payment.card': '?',
      'http.status_code': '4111111111111111',
      _private: '4111111111111111',
      order: '42',
    });
  });

  it('removes stack traces when asked', () => {
    const o = defaultObfuscationOptions();
    o.removeStackTraces = true;
    const s = span({ meta: { 'error.stack': 'at secret (/var/task/index.js:1:1)' } });
    new Obfuscator(o).obfuscate(s);
    expect(s.meta['error.stack']).toBe('?');
  });
});
