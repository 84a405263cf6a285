// Empty exports on purpose: see package.json and the README ("Offline install").
module.exports = {};
