'use strict';
/**
 * Loopback Telegram Bot API emulator for the end-to-end tests (driven by tests/telegram_emulator.py).
 *
 * telegram-test-api keeps the update queue, message ids and the client API; this front app sits before
 * its Express app because, as shipped (4.2.1), python-telegram-bot 22.8 cannot run against it: getMe
 * lacks is_bot, dates are in milliseconds, callback queries lack chat_instance, edits answer null, and
 * getUpdates does not long-poll. The methods it lacks (documents, files, chat actions, commands) are
 * implemented here, and a few real Bot API refusals (bad HTML, over-long text, callback_data over 64
 * bytes, "message is not modified", unknown chat) are reproduced so tests catch what production would.
 *
 * Usage: node tests/harness/emulator.js [port] [--exit-on-stdin-eof]
 * Listens on 127.0.0.1 only; port 0 (the default) lets the OS choose. Prints "READY <port>" when up.
 */
const path = require('path');
const express = require('express');
const multer = require('multer');
const TelegramServer = require('telegram-test-api');

const HOST = '127.0.0.1';
const BOT_FIRST_NAME = 'Test Bot';
const BOT_USERNAME = 'emulated_test_bot';
const LIMITS = { text: 4096, caption: 1024, callbackData: 64, download: 20 * 1024 * 1024, upload: 50 * 1024 * 1024 };
// Parameters PTB sends as JSON strings inside form fields.
const JSON_PARAMS = ['reply_markup', 'entities', 'caption_entities', 'reply_parameters', 'link_preview_options',
  'commands', 'scope', 'allowed_updates'];
const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a',
  'code', 'pre', 'blockquote', 'tg-emoji']);
const HTML_ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"' };
const USER_UPDATE_EVENTS = ['AddedUserMessage', 'AddedUserCommand', 'AddedUserCallbackQuery'];
// Bot methods passed to telegram-test-api unchanged; any other method not implemented here answers 400.
const FORWARDED_METHODS = new Set(['setWebhook']);

/** A refusal the real Bot API would give; the message is the Bot API `description`. */
class ApiError extends Error {}

// Not started: its Express app is mounted below, so there is one port and no storage clean-up timer
// dropping messages older than storeTimeout during a long test session.
const server = new TelegramServer({ host: HOST });

// Webhook mode: telegram-test-api would POST its own update shape (millisecond dates, botToken field);
// deliver the Bot API shape instead, as Telegram does, so PTB's run_webhook can be tested end to end.
const queueUserUpdate = server.addUserUpdate.bind(server);
server.addUserUpdate = async (update) => {
  const webhook = server.webhooks[update.botToken];
  if (!webhook) return queueUserUpdate(update);
  const response = await fetch(webhook.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json',
      ...(webhook.secret_token ? { 'x-telegram-bot-api-secret-token': webhook.secret_token } : {}) },
    body: JSON.stringify(toBotApiUpdate(TelegramServer.formatUpdate(update))),
  });
  server.updateId++;
  if (response.status > 204) throw new Error(`webhook answered ${response.status}`);
};
const chats = new Map(); // chat id -> Chat object from the latest user update in it
const files = new Map(); // file_id -> {document, bytes, filePath}
const chatActions = []; // {token, chat_id, action}
const commandSets = new Map(); // scope key -> {token, scope, language_code, commands}
const callbackAnswers = []; // {token, callback_query_id, text, show_alert, url, cache_time}
let fileCounter = 0;

const botUser = (token) => ({
  id: Number(token.split(':')[0]) || 1, is_bot: true, first_name: BOT_FIRST_NAME, username: BOT_USERNAME,
});
const toSeconds = (time) => (time > 1e11 ? Math.floor(time / 1000) : time);
const flag = (value) => value === true || value === 'true';
const ok = (res, result) => res.json({ ok: true, result });
const fail = (res, description, code = 400) => res.status(code).json({ ok: false, error_code: code, description });

function botParams(req) {
  const params = { ...req.query, ...req.body };
  for (const name of JSON_PARAMS) {
    if (typeof params[name] === 'string') params[name] = JSON.parse(params[name]);
  }
  return params;
}

/** Telegram only lets a bot write to chats it has seen (here: chats a test user wrote in). */
function checkChat(chatId) {
  if (!chats.has(String(chatId))) throw new ApiError('Bad Request: chat not found');
}

function rememberChat(chat) {
  chats.set(String(chat.id), chat);
}

/** Parses Telegram's HTML subset; returns the plain text or throws the Bot API's parse error. */
function htmlToPlain(html) {
  const tagPattern = /<(\/?)([^\s<>/]*)[^<>]*>/y;
  const entityPattern = /&(#x[0-9a-f]+|#[0-9]+|lt|gt|amp|quot);/iy;
  const open = [];
  let plain = '';
  let i = 0;
  const parseError = (detail) => new ApiError(`Bad Request: can't parse entities: ${detail}`);
  const byteOffset = () => Buffer.byteLength(html.slice(0, i));
  while (i < html.length) {
    if (html[i] === '<') {
      tagPattern.lastIndex = i;
      const match = tagPattern.exec(html);
      if (!match) throw parseError(`Unclosed start tag at byte offset ${byteOffset()}`);
      const [whole, closing, rawName] = match;
      const name = rawName.toLowerCase();
      if (!name) throw parseError(`Empty tag name at byte offset ${byteOffset()}`);
      if (!closing && !HTML_TAGS.has(name)) {
        throw parseError(`Unsupported start tag "${name}" at byte offset ${byteOffset()}`);
      }
      if (!closing) open.push(name);
      else if (open.at(-1) !== name) {
        const expected = open.length ? `expected "</${open.at(-1)}>"` : 'no tag is open';
        throw parseError(`Unmatched end tag at byte offset ${byteOffset()}, ${expected}, found "</${name}>"`);
      } else open.pop();
      i += whole.length;
    } else {
      entityPattern.lastIndex = i;
      const entity = html[i] === '&' && entityPattern.exec(html)?.[1].toLowerCase();
      if (!entity) {
        plain += html[i];
        i += 1;
        continue;
      }
      plain += entity.startsWith('#')
        ? String.fromCodePoint(Number(entity.startsWith('#x') ? `0x${entity.slice(2)}` : entity.slice(1)))
        : HTML_ENTITIES[entity];
      i = entityPattern.lastIndex;
    }
  }
  if (open.length) throw parseError(`Can't find end tag corresponding to start tag "${open.at(-1)}"`);
  return plain;
}

/** What a client displays for the text; throws Telegram's error for HTML it would reject. */
const plainText = (text, parseMode) => (parseMode === 'HTML' ? htmlToPlain(text) : text);

/** Validates message text, or a caption (which may be empty), as Telegram would. */
function checkText(text, parseMode, { caption = false } = {}) {
  const plain = plainText(text ?? '', parseMode);
  if (!caption && !plain.trim()) throw new ApiError('Bad Request: message text is empty');
  if (plain.length > (caption ? LIMITS.caption : LIMITS.text)) {
    throw new ApiError(`Bad Request: message ${caption ? 'caption ' : ''}is too long`);
  }
}

function checkReplyMarkup(markup) {
  for (const button of (markup?.inline_keyboard ?? []).flat()) {
    const data = button.callback_data;
    if (data !== undefined && (!data || Buffer.byteLength(data) > LIMITS.callbackData)) {
      throw new ApiError('Bad Request: BUTTON_DATA_INVALID');
    }
  }
}

function storeFile(bytes, fileName, mimeType) {
  fileCounter += 1;
  const document = {
    file_id: `document-${fileCounter}`,
    file_unique_id: `unique-document-${fileCounter}`,
    file_name: fileName,
    mime_type: mimeType,
    file_size: bytes.length,
  };
  const extension = path.extname(fileName).replace(/[^\w.]/g, '');
  const file = { document, bytes, filePath: `documents/file_${fileCounter}${extension}` };
  files.set(document.file_id, file);
  return file;
}

const versionOf = (params) => ({
  text: params.text ?? null,
  caption: params.caption ?? null,
  parse_mode: params.parse_mode ?? null,
  reply_markup: params.reply_markup ?? null,
});

/** Stores a bot message in telegram-test-api, keeping every version (sent, then edits) for the tests. */
function recordBotMessage(token, params) {
  const { message_id: messageId } = server.addBotMessage(params, token);
  const entry = server.storage.botMessages.find((stored) => stored.messageId === messageId);
  entry.versions = [versionOf(params)];
  return entry;
}

function findBotMessage(token, chatId, messageId) {
  return server.storage.botMessages.find((stored) => stored.botToken === token
    && String(stored.message.chat_id) === String(chatId) && stored.messageId === Number(messageId));
}

function editableMessage(token, params) {
  if (params.inline_message_id) throw new ApiError('Bad Request: inline messages are not emulated');
  const entry = findBotMessage(token, params.chat_id, params.message_id);
  if (!entry) throw new ApiError('Bad Request: message to edit not found');
  return entry;
}

function addVersion(entry, version) {
  if (JSON.stringify(version) === JSON.stringify(entry.versions.at(-1))) {
    throw new ApiError('Bad Request: message is not modified: specified new message content and reply markup'
      + ' are exactly the same as a current content and reply markup of the message');
  }
  entry.versions.push(version);
  Object.assign(entry.message, version); // keeps telegram-test-api's own client view current
  entry.editTime = Date.now();
  return entry;
}

/** The Bot API Message for a stored bot message, as Telegram would return it to the bot. */
function toMessage(entry) {
  const current = entry.versions.at(-1);
  const message = {
    message_id: entry.messageId,
    from: botUser(entry.botToken),
    chat: chats.get(String(entry.message.chat_id)),
    date: toSeconds(entry.time),
  };
  if (entry.editTime) message.edit_date = toSeconds(entry.editTime);
  if (current.text !== null) message.text = plainText(current.text, current.parse_mode);
  if (current.caption !== null) message.caption = plainText(current.caption, current.parse_mode);
  if (entry.message.document) message.document = entry.message.document;
  if (current.reply_markup?.inline_keyboard) message.reply_markup = current.reply_markup;
  return message;
}

function withSecondDates(message) {
  const fixed = { ...message, date: toSeconds(message.date ?? Date.now()) };
  if (message.reply_to_message) fixed.reply_to_message = withSecondDates(message.reply_to_message);
  return fixed;
}

/** Fixes telegram-test-api's update shape for PTB: second dates, chat_instance, no botToken field. */
function toBotApiUpdate(update) {
  const query = update.callback_query;
  if (query) {
    const message = query.message && withSecondDates(query.message);
    return {
      ...update,
      callback_query: { ...query, message, chat_instance: String(message?.chat.id ?? query.from.id) },
    };
  }
  const { botToken, ...message } = update.message;
  return { ...update, message: withSecondDates(message) };
}

function waitForUserUpdate(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const event of USER_UPDATE_EVENTS) server.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const event of USER_UPDATE_EVENTS) server.on(event, done);
  });
}

const app = express();
app.use(express.json({ limit: '1mb' }));
app.use(express.urlencoded({ extended: false, limit: '1mb' }));
const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: LIMITS.upload }, defParamCharset: 'utf8' });

const asyncRoute = (handler) => (req, res, next) => handler(req).then((result) => ok(res, result), next);

/** Registers a synchronous Bot API method whose ApiErrors become Bot API error answers. */
function botMethod(name, handler, ...middleware) {
  app.all(`/bot:token/${name}`, ...middleware, (req, res) => {
    try {
      ok(res, handler(botParams(req), req.params.token, req));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      fail(res, error.message);
    }
  });
}

botMethod('getMe', (_params, token) => ({
  ...botUser(token), can_join_groups: true, can_read_all_group_messages: true, supports_inline_queries: false,
}));

botMethod('deleteWebhook', (params, token) => {
  if (flag(params.drop_pending_updates)) server.getUpdates(token); // marks every pending update read
  server.deleteWebhook(token);
  return true;
});

// Long polling: answers as soon as a user update arrives, or with [] after `timeout` seconds. If the bot
// drops the request (PTB cancels it on stop), pending updates stay unread instead of being lost.
app.all('/bot:token/getUpdates', async (req, res, next) => {
  try {
    const { token } = req.params;
    const deadline = Date.now() + Math.min(Number(botParams(req).timeout) || 0, 50) * 1000;
    let dropped = false;
    res.once('close', () => { dropped = !res.writableEnded; });
    let updates = server.getUpdates(token);
    while (!updates.length && Date.now() < deadline) {
      await waitForUserUpdate(deadline - Date.now());
      if (dropped) return;
      updates = server.getUpdates(token);
    }
    ok(res, updates.map(toBotApiUpdate));
  } catch (error) {
    next(error);
  }
});

botMethod('sendMessage', (params, token) => {
  checkChat(params.chat_id);
  checkText(params.text, params.parse_mode);
  checkReplyMarkup(params.reply_markup);
  return toMessage(recordBotMessage(token, params));
});

botMethod('sendDocument', (params, token, req) => {
  checkChat(params.chat_id);
  checkText(params.caption, params.parse_mode, { caption: true });
  checkReplyMarkup(params.reply_markup);
  const uploaded = req.files?.find((file) => file.fieldname === 'document');
  const file = uploaded ? storeFile(uploaded.buffer, uploaded.originalname, uploaded.mimetype) : files.get(params.document);
  if (!file) throw new ApiError('Bad Request: wrong file identifier/HTTP URL specified');
  return toMessage(recordBotMessage(token, { ...params, document: file.document }));
}, upload.any());

botMethod('editMessageText', (params, token) => {
  const entry = editableMessage(token, params);
  if (entry.message.document) throw new ApiError('Bad Request: there is no text in the message to edit');
  checkText(params.text, params.parse_mode);
  checkReplyMarkup(params.reply_markup);
  return toMessage(addVersion(entry, versionOf(params))); // no reply_markup removes the keyboard, as on Telegram
});

botMethod('editMessageReplyMarkup', (params, token) => {
  const entry = editableMessage(token, params);
  checkReplyMarkup(params.reply_markup);
  return toMessage(addVersion(entry, { ...entry.versions.at(-1), reply_markup: params.reply_markup ?? null }));
});

botMethod('deleteMessage', (params) => {
  if (!server.deleteMessage(Number(params.chat_id), Number(params.message_id))) {
    throw new ApiError('Bad Request: message to delete not found');
  }
  return true;
});

botMethod('answerCallbackQuery', (params, token) => {
  const id = String(params.callback_query_id);
  const issued = Number(id) >= 1 && Number(id) < server.callbackId;
  if (!issued || callbackAnswers.some((answer) => answer.callback_query_id === id)) {
    throw new ApiError('Bad Request: query is too old and response timeout expired or query ID is invalid');
  }
  callbackAnswers.push({
    token,
    callback_query_id: id,
    text: params.text ?? null,
    show_alert: flag(params.show_alert),
    url: params.url ?? null,
    cache_time: params.cache_time === undefined ? null : Number(params.cache_time),
  });
  return true;
});

botMethod('sendChatAction', (params, token) => {
  checkChat(params.chat_id);
  chatActions.push({ token, chat_id: Number(params.chat_id), action: params.action });
  return true;
});

const scopeKey = (token, params) => {
  const scope = params.scope ?? { type: 'default' };
  return [token, scope.type, scope.chat_id ?? '', scope.user_id ?? '', params.language_code ?? ''].join('|');
};

botMethod('setMyCommands', (params, token) => {
  for (const { command, description } of params.commands) {
    if (!/^[a-z0-9_]{1,32}$/.test(command)) throw new ApiError('Bad Request: BOT_COMMAND_INVALID');
    if (!description || description.length > 256) throw new ApiError('Bad Request: command description is invalid');
  }
  commandSets.set(scopeKey(token, params), {
    token, scope: params.scope ?? { type: 'default' }, language_code: params.language_code ?? '', commands: params.commands,
  });
  return true;
});

botMethod('getMyCommands', (params, token) => commandSets.get(scopeKey(token, params))?.commands ?? []);

botMethod('deleteMyCommands', (params, token) => {
  commandSets.delete(scopeKey(token, params));
  return true;
});

botMethod('getFile', (params) => {
  const file = files.get(params.file_id);
  if (!file) throw new ApiError('Bad Request: invalid file_id');
  if (file.bytes.length > LIMITS.download) throw new ApiError('Bad Request: file is too big');
  const { file_id, file_unique_id, file_size } = file.document;
  return { file_id, file_unique_id, file_size, file_path: file.filePath };
});

app.get('/file/bot:token/*', (req, res) => {
  const file = [...files.values()].find((stored) => stored.filePath === req.params[0]);
  if (!file) return fail(res, 'Not Found', 404);
  return res.type(file.document.mime_type || 'application/octet-stream').send(file.bytes);
});

app.all('/bot:token/:method', (req, res, next) => {
  if (FORWARDED_METHODS.has(req.params.method)) return next();
  return fail(res, `Bad Request: method ${req.params.method} is not emulated by tests/harness/emulator.js`);
});

/** Replaces the harness's `reply_to_message_id` with the Message replied to, as Telegram delivers it. */
function withReplyTarget(message) {
  const { reply_to_message_id: replyTo, ...rest } = message;
  if (replyTo === undefined) return message;
  const botMessage = findBotMessage(message.botToken, message.chat.id, replyTo);
  if (botMessage) return { ...rest, reply_to_message: toMessage(botMessage) };
  const userUpdate = server.storage.userMessages.find((stored) => stored.messageId === Number(replyTo)
    && stored.botToken === message.botToken && stored.message?.chat.id === message.chat.id);
  if (!userUpdate) throw new Error(`no message ${replyTo} in chat ${message.chat.id} to reply to`);
  const { reply_to_message: _nested, ...replied } = toBotApiUpdate(TelegramServer.formatUpdate(userUpdate)).message;
  return { ...rest, reply_to_message: replied };
}

// Client API (acting as users): telegram-test-api's routes and payloads, plus `reply_to_message_id`,
// answered with the message_id assigned. /sendCallback and the rest are telegram-test-api's own.
for (const [route, add] of [['/sendMessage', 'addUserMessage'], ['/sendCommand', 'addUserCommand']]) {
  app.post(route, asyncRoute(async (req) => {
    const message = withReplyTarget(req.body);
    rememberChat(message.chat);
    const messageId = server.messageId;
    await server[add](message);
    return { message_id: messageId };
  }));
}

// Harness-only endpoints for the tests.
app.post('/harness/sendDocument', upload.single('document'), asyncRoute(async (req) => {
  const message = withReplyTarget(JSON.parse(req.body.message));
  const { document } = storeFile(req.file.buffer, req.file.originalname, req.file.mimetype);
  rememberChat(message.chat);
  const messageId = server.messageId;
  await server.addUserMessage({ ...message, document });
  return { message_id: messageId, file_id: document.file_id };
}));

// A user presses an inline button of a bot message; only buttons the message currently shows exist.
app.post('/harness/pressButton', asyncRoute(async (req) => {
  const { botToken, from, chat_id: chatId, message_id: messageId, data } = req.body;
  const entry = findBotMessage(botToken, chatId, messageId);
  if (!entry) throw new Error(`no bot message ${messageId} in chat ${chatId}`);
  const buttons = (entry.versions.at(-1).reply_markup?.inline_keyboard ?? []).flat();
  if (!buttons.some((button) => button.callback_data === data)) {
    throw new Error(`message ${messageId} has no button with callback_data ${JSON.stringify(data)}`);
  }
  const callbackQueryId = String(server.callbackId);
  await server.addUserCallback({ botToken, from, message: toMessage(entry), data });
  return { callback_query_id: callbackQueryId };
}));

app.get('/harness/botMessages', (req, res) => ok(res, server.storage.botMessages
  .filter((entry) => entry.botToken === req.query.token && String(entry.message.chat_id) === req.query.chat_id)
  .map((entry) => {
    const reply = entry.message.reply_parameters?.message_id ?? entry.message.reply_to_message_id;
    return {
      message_id: entry.messageId,
      chat_id: Number(entry.message.chat_id),
      reply_to_message_id: reply === undefined ? null : Number(reply),
      document: entry.message.document ?? null,
      versions: entry.versions,
    };
  })));

// Long poll: answers as soon as the bot has sent the chat a message newer than `after` (or after `timeout`
// seconds with message_id 0). Load runs wait here instead of polling /harness/botMessages, whose scans of
// every stored message would otherwise eat the CPU the bot is measured on. Newest messages are at the end.
app.get('/harness/waitBotMessage', (req, res) => {
  const after = Number(req.query.after ?? 0);
  const deadline = Date.now() + 1000 * Number(req.query.timeout ?? 30);
  const check = () => {
    const all = server.storage.botMessages;
    for (let i = all.length - 1; i >= 0 && all[i].messageId > after; i -= 1) {
      const entry = all[i];
      if (entry.botToken === req.query.token && String(entry.message.chat_id) === req.query.chat_id) {
        return ok(res, { message_id: entry.messageId });
      }
    }
    if (Date.now() > deadline) return ok(res, { message_id: 0 });
    return setTimeout(check, 2);
  };
  check();
});

app.get('/harness/files/:fileId', (req, res) => {
  const file = files.get(req.params.fileId);
  if (!file) return fail(res, 'Not Found', 404);
  return res.type('application/octet-stream').send(file.bytes);
});

app.get('/harness/chatActions', (req, res) => ok(res, chatActions
  .filter((action) => action.token === req.query.token && String(action.chat_id) === req.query.chat_id)
  .map((action) => action.action)));

app.get('/harness/commands', (req, res) => ok(res, [...commandSets.values()]
  .filter((set) => set.token === req.query.token)
  .map(({ token, ...set }) => set)));

app.get('/harness/callbackAnswers', (req, res) => ok(res, callbackAnswers
  .filter((answer) => answer.token === req.query.token)
  .map(({ token, ...answer }) => answer)));

app.use(server.webServer);

// Malformed requests (bad JSON in a parameter, oversized upload) answer as Telegram's Bad Request would.
app.use((error, _req, res, _next) => fail(res, `Bad Request: ${error.message}`));

const args = process.argv.slice(2);
const port = Number(args.find((arg) => !arg.startsWith('--')) ?? process.env.TELEGRAM_EMULATOR_PORT ?? 0);
const listener = app.listen(port, HOST, () => {
  process.stdout.write(`READY ${listener.address().port}\n`);
});
listener.on('error', (error) => {
  process.stderr.write(`emulator failed to listen on ${HOST}:${port}: ${error.message}\n`);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
if (args.includes('--exit-on-stdin-eof')) {
  // The Python side holds our stdin open; EOF means it is gone, so never outlive it as an orphan.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
