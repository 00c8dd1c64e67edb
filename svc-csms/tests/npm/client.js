// Drives the CSMS with ocpp-rpc (an independent OCPP-J implementation) in strict mode, which
// validates every payload both ways against its own copy of the official schemas.
// Usage: node client.js '<json config>'; prints one JSON object with the results on stdout.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const config = JSON.parse(process.argv[2]);
const V16 = config.protocol === 'ocpp1.6';

function client(extra = {}) {
    return new RPCClient({
        endpoint: config.endpoint,
        identity: config.identity,
        password: config.password,
        protocols: [config.protocol],
        strictMode: true,
        reconnect: false,
        callTimeoutMs: 5000,
        ...extra,
    });
}

function now() {
    return new Date().toISOString();
}

async function conformance() {
    const cli = client();
    const failures = [];
    cli.on('strictValidationFailure', (e) => failures.push(String(e.error)));
    await cli.connect();
    const out = { protocol: cli.protocol };
    out.boot = await cli.call('BootNotification', V16
        ? { chargePointVendor: 'Wattlane', chargePointModel: 'rpc-1' }
        : { reason: 'PowerUp', chargingStation: { vendorName: 'Wattlane', model: 'rpc-1' } });
    out.heartbeat = await cli.call('Heartbeat', {});
    out.status = await cli.call('StatusNotification', V16
        ? { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() }
        : { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    out.authorize = await cli.call('Authorize', V16
        ? { idTag: 'RPC-CARD' }
        : { idToken: { idToken: 'RPC-CARD', type: 'ISO14443' } });
    out.dataTransfer = await cli.call('DataTransfer', { vendorId: 'com.example', data: 'x' });
    out.firmware = await cli.call('FirmwareStatusNotification', { status: 'Installed' });
    if (V16) {
        out.start = await cli.call('StartTransaction',
            { connectorId: 1, idTag: 'RPC-CARD', meterStart: 0, timestamp: now() });
    }
    out.strictValidationFailures = failures;
    await cli.close();
    return out;
}

async function malformed() {
    const cli = client();
    const inbound = [];
    cli.on('message', ({ message, outbound }) => {
        if (!outbound) inbound.push(JSON.parse(message.toString()));
    });
    await cli.connect();
    const out = { answers: [] };
    for (const frame of config.frames) {
        inbound.length = 0;
        cli.sendRaw(frame);
        // A Heartbeat after each bad frame: the socket must keep serving.
        const hb = await cli.call('Heartbeat', {});
        out.answers.push({ frame, inbound: inbound.filter((m) => m[0] === 4), heartbeatOk: !!hb.currentTime });
    }
    await cli.close();
    return out;
}

async function handshake() {
    try {
        const cli = client();
        await cli.connect();
        await cli.close();
        return { connected: true };
    } catch (err) {
        return { connected: false, httpStatus: err.code ?? null, error: String(err) };
    }
}

async function answerCalls() {
    const cli = client();
    const received = [];
    cli.handle('Reset', ({ params }) => {
        received.push(['Reset', params]);
        return { status: 'Accepted' };
    });
    cli.handle('ClearCache', ({ params }) => {
        received.push(['ClearCache', params]);
        return { status: 'Rejected' };
    });
    await cli.connect();
    process.stderr.write('ready\n');
    await new Promise((resolve) => setTimeout(resolve, config.seconds * 1000));
    await cli.close();
    return { received };
}

// A charging session, sent twice over as a station replaying its offline queue would: the
// repeats must be answered (schema-valid) and change nothing.
async function transactions() {
    const cli = client();
    const failures = [];
    cli.on('strictValidationFailure', (e) => failures.push(String(e.error)));
    await cli.connect();
    const out = { answers: [] };
    const t0 = new Date(Date.now() - 60000).toISOString();
    if (V16) {
        await cli.call('BootNotification', { chargePointVendor: 'Wattlane', chargePointModel: 'rpc-1' });
        const start = { connectorId: 1, idTag: 'RPC-CARD', meterStart: 100, timestamp: t0 };
        const started = await cli.call('StartTransaction', start);
        const id = started.transactionId;
        const sample = { timestamp: now(), sampledValue: [
            { value: '1.5', unit: 'kWh', measurand: 'Energy.Active.Import.Register' },
            { value: '7.4', unit: 'kW', measurand: 'Power.Active.Import' },
            { value: '16', unit: 'A', measurand: 'Current.Import', phase: 'L1' },
            { value: '15', unit: 'A', measurand: 'Current.Import', phase: 'L2' },
        ] };
        const meter = { connectorId: 1, transactionId: id, meterValue: [sample] };
        const stop = { transactionId: id, meterStop: 2600, timestamp: now(), idTag: 'RPC-CARD', reason: 'Local' };
        for (const [action, params] of [['StartTransaction', start], ['MeterValues', meter], ['StopTransaction', stop]]) {
            out.answers.push([action, await cli.call(action, params)]);
            out.answers.push([action, await cli.call(action, params)]);
        }
        out.transactionId = id;
    } else {
        await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Wattlane', model: 'rpc-1' } });
        const info = { transactionId: 'rpc-tx-1' };
        const at = (seconds) => new Date(Date.now() - 60000 + seconds * 1000).toISOString();
        const value = (wh, context, seconds) => ({ timestamp: at(seconds), sampledValue: [
            { value: wh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
            { value: 80, measurand: 'SoC', unitOfMeasure: { unit: 'Percent' } },
        ] });
        const events = [
            { eventType: 'Started', timestamp: t0, triggerReason: 'Authorized', seqNo: 0, transactionInfo: info,
              evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'RPC-CARD', type: 'ISO14443' },
              meterValue: [value(100, 'Transaction.Begin', 0)] },
            { eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 1,
              transactionInfo: { ...info, chargingState: 'Charging' }, meterValue: [value(1500, 'Sample.Periodic', 20)] },
            { eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 2,
              transactionInfo: { ...info, stoppedReason: 'Local' }, meterValue: [value(2600, 'Transaction.End', 40)] },
        ];
        for (const params of events) {
            out.answers.push(['TransactionEvent', await cli.call('TransactionEvent', params)]);
            out.answers.push(['TransactionEvent', await cli.call('TransactionEvent', params)]);
        }
    }
    out.strictValidationFailures = failures;
    await cli.close();
    return out;
}

async function until(predicate, ms) {
    const end = Date.now() + ms;
    while (!predicate() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
}

// A priced session at a station that shows costs: the CSMS's CostUpdated (2.0.1) and California
// pricing GetConfiguration / DataTransfer calls (1.6) are validated by ocpp-rpc's strict mode on
// the way in, and so are the TransactionEvent replies carrying totalCost.
async function costs() {
    const cli = client();
    const failures = [];
    const received = [];
    cli.on('strictValidationFailure', (e) => failures.push(String(e.error)));
    cli.handle('GetConfiguration', ({ params }) => {
        received.push(['GetConfiguration', params]);
        return { configurationKey: [{ key: 'CustomDisplayCostAndPrice', readonly: true, value: 'true' }] };
    });
    cli.handle('DataTransfer', ({ params }) => {
        received.push(['DataTransfer', { ...params, data: JSON.parse(params.data) }]);
        return { status: 'Accepted' };
    });
    cli.handle('CostUpdated', ({ params }) => {
        received.push(['CostUpdated', params]);
        return {};
    });
    await cli.connect();
    const out = { answers: [] };
    // Running costs come at an interval: wait for one showing the session's metered energy.
    const cost = ([a, p]) => (a === 'DataTransfer' ? p.data.cost : p.totalCost);
    const seen = (action, messageId, value) => () => received.some(
        (r) => r[0] === action && (messageId === undefined || r[1].messageId === messageId)
            && (value === undefined || cost(r) === value));
    if (V16) {
        await cli.call('BootNotification', { chargePointVendor: 'Wattlane', chargePointModel: 'rpc-1' });
        const started = await cli.call('StartTransaction',
            { connectorId: 1, idTag: 'RPC-CARD', meterStart: 1000, timestamp: now() });
        const id = started.transactionId;
        await cli.call('MeterValues', { connectorId: 1, transactionId: id, meterValue: [{ timestamp: now(),
            sampledValue: [{ value: '11000', unit: 'Wh', measurand: 'Energy.Active.Import.Register' }] }] });
        await until(seen('DataTransfer', 'RunningCost', config.runningCost), 5000);
        out.answers.push(await cli.call('StopTransaction', { transactionId: id, meterStop: 21000, timestamp: now() }));
        await until(seen('DataTransfer', 'FinalCost'), 5000);
        out.transactionId = id;
    } else {
        await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Wattlane', model: 'rpc-1' } });
        const base = Date.now() - 60000;
        const value = (wh, seconds) => [{ timestamp: new Date(base + seconds * 1000).toISOString(), sampledValue: [
            { value: wh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }];
        const info = { transactionId: 'rpc-cost-1' };
        out.answers.push(await cli.call('TransactionEvent', { eventType: 'Started', timestamp: now(),
            triggerReason: 'Authorized', seqNo: 0, transactionInfo: info, evse: { id: 1, connectorId: 1 },
            idToken: { idToken: 'RPC-CARD', type: 'ISO14443' }, meterValue: value(1000, 0) }));
        out.answers.push(await cli.call('TransactionEvent', { eventType: 'Updated', timestamp: now(),
            triggerReason: 'MeterValuePeriodic', seqNo: 1, transactionInfo: info, meterValue: value(11000, 20) }));
        await until(seen('CostUpdated', undefined, config.runningCost), 5000);
        out.answers.push(await cli.call('TransactionEvent', { eventType: 'Ended', timestamp: now(),
            triggerReason: 'StopAuthorized', seqNo: 2, transactionInfo: { ...info, stoppedReason: 'Local' },
            meterValue: value(21000, 40) }));
    }
    out.received = received;
    out.strictValidationFailures = failures;
    await cli.close();
    return out;
}

const scenarios = { conformance, malformed, handshake, answerCalls, transactions, costs };
scenarios[config.scenario]()
    .then((out) => { process.stdout.write(JSON.stringify(out)); process.exit(0); })
    .catch((err) => {
        process.stdout.write(JSON.stringify({ crashed: String(err), code: err.rpcErrorCode ?? null }));
        process.exit(1);
    });
