// A standard third-party Cosmos client (CosmJS, from npm) against simnet, as a user would drive a chain:
// HTTP and websocket, balances and accounts, a bank send and a governance proposal (MsgCreatePartialUpgrade)
// plus its vote, signed with gas "auto" (Simulate), each waited for (tx_search), a second send with a zero gas
// price (fee "0ngonka"), and NewBlock, NewBlockHeader and Tx subscriptions. Prints one JSON object of what it
// saw; exits 1 with the error otherwise.
//
// usage: node simnet_client.cjs   (settings from the environment: SIMNET_RPC, SIMNET_WS, SIMNET_MNEMONIC,
//        SIMNET_RECIPIENT, SIMNET_GOV, SIMNET_MIN_DEPOSIT, SIMNET_UPGRADE_HEIGHT)
"use strict";

const { stringToPath } = require("@cosmjs/crypto");
const { DirectSecp256k1HdWallet, Registry } = require("@cosmjs/proto-signing");
const { GasPrice, SigningStargateClient, StargateClient, defaultRegistryTypes } = require("@cosmjs/stargate");
const { Comet38Client, WebsocketClient, connectComet, isComet38Client } = require("@cosmjs/tendermint-rpc");
const { BinaryReader, BinaryWriter } = require("cosmjs-types/binary");
const { MsgSubmitProposal, MsgVote } = require("cosmjs-types/cosmos/gov/v1/tx");
const { QueryProposalRequest, QueryProposalResponse } = require("cosmjs-types/cosmos/gov/v1/query");
const { VoteOption } = require("cosmjs-types/cosmos/gov/v1/gov");
const { AuthInfo, TxRaw } = require("cosmjs-types/cosmos/tx/v1beta1/tx");

const trace = process.env.SIMNET_TRACE ? (m) => process.stderr.write(`simnet_client: ${m}\n`) : () => {};
const TYPE_PARTIAL_UPGRADE = "/inference.inference.MsgCreatePartialUpgrade";
const toJson = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
};

// inference.inference.MsgCreatePartialUpgrade: authority=1, height=2 (uint64), nodeVersion=3, apiBinariesJson=4
const MsgCreatePartialUpgrade = {
  encode(m, w = BinaryWriter.create()) {
    if (m.authority) w.uint32(10).string(m.authority);
    if (m.height) w.uint32(16).uint64(m.height);
    if (m.nodeVersion) w.uint32(26).string(m.nodeVersion);
    if (m.apiBinariesJson) w.uint32(34).string(m.apiBinariesJson);
    return w;
  },
  decode(input) {
    const r = input instanceof BinaryReader ? input : new BinaryReader(input);
    const m = { authority: "", height: 0n, nodeVersion: "", apiBinariesJson: "" };
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 10) m.authority = r.string();
      else if (tag === 16) m.height = r.uint64();
      else if (tag === 26) m.nodeVersion = r.string();
      else if (tag === 34) m.apiBinariesJson = r.string();
      else r.skipType(tag & 7);
    }
    return m;
  },
  fromPartial(o) {
    return { authority: o.authority ?? "", height: BigInt(o.height ?? 0), nodeVersion: o.nodeVersion ?? "", apiBinariesJson: o.apiBinariesJson ?? "" };
  },
};

function firstEvent(stream, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} event within ${timeoutMs} ms`)), timeoutMs);
    const sub = stream.subscribe({
      next: (ev) => { clearTimeout(timer); sub.unsubscribe(); resolve(ev); },
      error: (err) => { clearTimeout(timer); reject(new Error(`${what} subscription failed: ${err.message || err}`)); },
      complete: () => {},
    });
  });
}

function attribute(result, type, key) {
  for (const ev of result.events) {
    if (ev.type !== type) continue;
    for (const a of ev.attributes) if (a.key === key) return a.value;
  }
  throw new Error(`tx ${result.transactionHash} has no ${type}.${key} event; events: ${toJson(result.events)}`);
}

async function main() {
  const rpc = env("SIMNET_RPC");
  const out = { checks: [] };
  const check = (name, ok, detail) => {
    out.checks.push(name);
    if (!ok) throw new Error(`check failed: ${name}: ${toJson(detail)}`);
  };

  trace("http");
  // HTTP: CometBFT 0.38 detected from status, chain id, height
  const comet = await connectComet(rpc);
  check("connectComet picks the Comet 0.38 client", isComet38Client(comet), comet.constructor.name);
  const status = await comet.status();
  out.chain_id = status.nodeInfo.network;
  const query = await StargateClient.create(comet);
  out.height_http = await query.getHeight();

  trace("websocket");
  // websocket: a second client, subscriptions opened before any tx is sent
  const ws = Comet38Client.create(new WebsocketClient(env("SIMNET_WS"), (err) => { out.ws_error = String(err); }));
  const wsQuery = await StargateClient.create(ws);
  out.height_ws = await wsQuery.getHeight();
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(env("SIMNET_MNEMONIC"), { prefix: "gonka", hdPaths: [stringToPath("m/44'/1200'/0'/0/0")] });
  const [{ address }] = await wallet.getAccounts();
  out.sender = address;
  const gotNewBlock = firstEvent(ws.subscribeNewBlock(), "NewBlock", 15000);
  const gotHeader = firstEvent(ws.subscribeNewBlockHeader(), "NewBlockHeader", 15000);
  const gotTx = firstEvent(ws.subscribeTx(`message.sender='${address}'`), "Tx", 30000);

  trace("accounts");
  // accounts and balances
  const account = await query.getAccount(address);
  check("getAccount finds the sender", account && account.address === address, account);
  out.account_number = account.accountNumber;
  const recipient = env("SIMNET_RECIPIENT");
  const before = {
    sender: (await query.getBalance(address, "ngonka")).amount,
    recipient: (await query.getBalance(recipient, "ngonka")).amount,
  };
  out.all_balances_recipient = await query.getAllBalances(recipient);

  trace("send");
  // signing client: gas "auto" = Simulate, then broadcast_tx_sync and wait (tx_search tx.hash=...)
  const registry = new Registry([...defaultRegistryTypes, [TYPE_PARTIAL_UPGRADE, MsgCreatePartialUpgrade]]);
  const signer = await SigningStargateClient.connectWithSigner(rpc, wallet, {
    registry, gasPrice: GasPrice.fromString("0.025ngonka"), broadcastPollIntervalMs: 200, broadcastTimeoutMs: 30000,
  });
  const sent = await signer.sendTokens(address, recipient, [{ denom: "ngonka", amount: "12345" }], "auto", "cosmjs send");
  check("MsgSend delivered", sent.code === 0, sent);
  const feeSend = BigInt(attribute(sent, "tx", "fee").replace("ngonka", "") || "0");
  const after = {
    sender: (await query.getBalance(address, "ngonka")).amount,
    recipient: (await query.getBalance(recipient, "ngonka")).amount,
  };
  out.send = { height: sent.height, hash: sent.transactionHash, gas_used: String(sent.gasUsed), gas_wanted: String(sent.gasWanted), fee: String(feeSend), before, after };
  check("recipient balance +12345", BigInt(after.recipient) - BigInt(before.recipient) === 12345n, out.send);
  check("sender balance -(12345 + fee)", BigInt(before.sender) - BigInt(after.sender) === 12345n + feeSend, out.send);

  trace("proposal");
  // governance: MsgSubmitProposal (v1) carrying MsgCreatePartialUpgrade, then the vote
  const upgrade = { authority: env("SIMNET_GOV"), height: BigInt(env("SIMNET_UPGRADE_HEIGHT")), nodeVersion: "v0.3.9", apiBinariesJson: "" };
  const submit = {
    typeUrl: "/cosmos.gov.v1.MsgSubmitProposal",
    value: MsgSubmitProposal.fromPartial({
      messages: [{ typeUrl: TYPE_PARTIAL_UPGRADE, value: MsgCreatePartialUpgrade.encode(upgrade).finish() }],
      initialDeposit: [{ denom: "ngonka", amount: env("SIMNET_MIN_DEPOSIT") }],
      proposer: address, metadata: "", title: "CosmJS partial upgrade", summary: "MLNode v0.3.9 via CosmJS", expedited: false,
    }),
  };
  const proposed = await signer.signAndBroadcast(address, [submit], "auto", "cosmjs proposal");
  check("MsgSubmitProposal delivered", proposed.code === 0, proposed);
  const proposalId = BigInt(attribute(proposed, "submit_proposal", "proposal_id"));
  out.proposal = { id: String(proposalId), height: proposed.height, hash: proposed.transactionHash, gas_used: String(proposed.gasUsed) };
  const vote = { typeUrl: "/cosmos.gov.v1.MsgVote", value: MsgVote.fromPartial({ proposalId, voter: address, option: VoteOption.VOTE_OPTION_YES, metadata: "" }) };
  const voted = await signer.signAndBroadcast(address, [vote], "auto", "cosmjs vote");
  check("MsgVote delivered", voted.code === 0, voted);
  out.vote = { height: voted.height, hash: voted.transactionHash, option: attribute(voted, "proposal_vote", "option") };

  trace("zero-fee send");
  // a zero gas price, as Gonka's nodes accept (minimum-gas-prices = 0ngonka): the fee is the coin "0ngonka"
  const freeSigner = await SigningStargateClient.connectWithSigner(rpc, wallet, {
    registry, gasPrice: GasPrice.fromString("0ngonka"), broadcastPollIntervalMs: 200, broadcastTimeoutMs: 30000,
  });
  const freeBefore = (await query.getBalance(address, "ngonka")).amount;
  const freeSent = await freeSigner.sendTokens(address, recipient, [{ denom: "ngonka", amount: "777" }], "auto", "cosmjs zero-fee send");
  check("zero-fee MsgSend delivered", freeSent.code === 0, freeSent);
  const freeAfter = (await query.getBalance(address, "ngonka")).amount;
  const freeTx = TxRaw.decode((await query.getTx(freeSent.transactionHash)).tx);
  const freeFee = AuthInfo.decode(freeTx.authInfoBytes).fee;
  out.free_send = {
    height: freeSent.height, hash: freeSent.transactionHash, before: freeBefore, after: freeAfter,
    fee_event: attribute(freeSent, "tx", "fee"), fee_coins: freeFee.amount, gas_limit: String(freeFee.gasLimit),
  };
  check("zero-fee tx carries the coin 0ngonka", toJson(freeFee.amount) === toJson([{ denom: "ngonka", amount: "0" }]), out.free_send);
  check("zero-fee sender balance -777 exactly", BigInt(freeBefore) - BigInt(freeAfter) === 777n, out.free_send);
  freeSigner.disconnect();

  trace("read back");
  // read back: the proposal through a raw ABCI query (gov v1), the tx by hash, a tx_search by event
  const qc = signer.forceGetQueryClient();
  const raw = await qc.queryAbci("/cosmos.gov.v1.Query/Proposal", QueryProposalRequest.encode({ proposalId }).finish());
  const prop = QueryProposalResponse.decode(raw.value).proposal;
  out.proposal.status = prop.status;
  out.proposal.messages = prop.messages.map((m) => m.typeUrl);
  const fetched = await query.getTx(voted.transactionHash);
  check("getTx finds the vote", fetched && fetched.height === voted.height, fetched && fetched.height);
  const found = await query.searchTx(`message.action='/cosmos.gov.v1.MsgVote' AND message.sender='${address}'`);
  check("searchTx finds the vote", found.some((t) => t.hash === voted.transactionHash), found.map((t) => t.hash));

  trace("events");
  // events
  const nb = await gotNewBlock;
  const hdr = await gotHeader;
  const tx = await gotTx;
  out.events = { new_block_height: nb.header.height, new_block_header_height: hdr.height, tx_height: tx.height, tx_code: tx.result.code };
  check("Tx event for the sender's first tx", tx.height === sent.height, out.events);

  signer.disconnect();
  wsQuery.disconnect();
  query.disconnect();
  process.stdout.write(toJson(out) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => { process.stderr.write(`simnet_client: ${err && err.stack ? err.stack : err}\n`); process.exit(1); },
);
